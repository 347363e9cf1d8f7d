"""Test support shared by the suites: database and broker provisioning, factories."""

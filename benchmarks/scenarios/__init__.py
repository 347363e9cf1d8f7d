"""The scenarios: one module each (burst, steady, scale)."""

"""The jobscheduler command: embedded mode, service roles, migrations, tokens and operations."""

"""Persistence: models, engine factory, migrations and the repositories (the only code that speaks SQL)."""

"""Alembic migration scripts (a package only so that installs ship them next to ``app``)."""

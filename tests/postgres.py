"""The test PostgreSQL server: one place for its address and the backend parameters tests run over."""

from __future__ import annotations

import os

import pytest

# Local trust-auth server (scripts/test.sh starts it when it is down); TEST_POSTGRES_URL points elsewhere.
PG_BASE = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

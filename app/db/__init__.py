"""Persistence: SQLAlchemy models, sessions and migrations, the artifact store, and the repository.

Typical use::

    from app.db import Database, repository as repo, upgrade_database

    upgrade_database(url)                      # at start-up
    db = Database(url)
    with db.session_scope() as s:
        campaign = repo.create_campaign(s, problem.id, config={...})
        repo.append_event(s, campaign.id, "campaign.created")
"""

from app.db import repository
from app.db.artifacts import ArtifactNotFound, ArtifactStore
from app.db.errors import NotFound
from app.db.session import (
    Database,
    configure_database,
    current_revision,
    default_database_url,
    downgrade_database,
    get_database,
    make_engine,
    session_scope,
    upgrade_database,
)

__all__ = [
    "ArtifactNotFound",
    "ArtifactStore",
    "Database",
    "NotFound",
    "configure_database",
    "current_revision",
    "default_database_url",
    "downgrade_database",
    "get_database",
    "make_engine",
    "repository",
    "session_scope",
    "upgrade_database",
]

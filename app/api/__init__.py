"""The REST API (FastAPI) under ``/v1``: problems, campaigns, nodes, live events, knowledge base, probes."""

from app.api.app import create_app

__all__ = ["create_app"]

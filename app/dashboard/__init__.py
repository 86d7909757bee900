"""The web dashboard: a single-page app of static files served by the API process itself (no CDN, no build).

The pages call the REST API under ``/v1`` from the browser with the user's key, so they follow its
authentication and visibility rules; the files themselves hold no data and are served without a key.
"""

from app.dashboard.router import STATIC_DIR, install

__all__ = ["STATIC_DIR", "install"]

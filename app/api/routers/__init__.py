"""One router per resource; :func:`app.api.app.create_app` mounts them all under ``/v1``."""

"""Reference baseline candidates, one per problem kind.

Each baseline is a self-contained candidate module (stdlib, numpy, torch and math only) shipped as package
data: the service reads the file's *source* and seeds a discovery campaign with it, and the sandbox runs it
exactly like any agent-written candidate. Nothing here should be imported by a candidate.
"""

from __future__ import annotations

from pathlib import Path

BASELINE_BY_KIND: dict[str, str] = {
    "pinn": "mlp_pinn.py",
    "regression": "mlp_regressor.py",
    "operator": "deeponet.py",
}

_HERE = Path(__file__).resolve().parent


def baseline_path(kind: str) -> Path:
    """Path of the baseline candidate file for a problem kind (``"pinn"``, ``"regression"``, ``"operator"``)."""
    try:
        return _HERE / BASELINE_BY_KIND[kind]
    except KeyError:
        raise KeyError(f"no baseline for problem kind {kind!r}; known kinds: {sorted(BASELINE_BY_KIND)}") from None


def baseline_source(kind: str) -> str:
    """Source text of the baseline for ``kind`` (what a campaign stores as its root candidate)."""
    return baseline_path(kind).read_text()


__all__ = ["BASELINE_BY_KIND", "baseline_path", "baseline_source"]

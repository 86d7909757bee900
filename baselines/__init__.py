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


# What a competent user changes in the vanilla PINN in ten minutes: an L-BFGS finish (Raissi et al. 2019 train
# with L-BFGS throughout), fresh collocation points now and then, and a wider network.
TUNED_PINN_CONFIG = {"lbfgs_fraction": 0.3, "resample_every": 500, "width": 64}


def tuned_baseline_source(kind: str) -> str:
    """The baseline with the CONFIG values in ``TUNED_PINN_CONFIG`` changed (PINN problems; other kinds get
    the baseline as it is). Benchmarks show it next to campaign results as the simple expert baseline."""
    source = baseline_source(kind)
    if kind != "pinn":
        return source
    for key, value in TUNED_PINN_CONFIG.items():
        start = source.index(f'    "{key}": ')
        end = source.index(",", start)
        source = source[:start] + f'    "{key}": {value!r}' + source[end:]
    return source


__all__ = ["BASELINE_BY_KIND", "TUNED_PINN_CONFIG", "baseline_path", "baseline_source", "tuned_baseline_source"]

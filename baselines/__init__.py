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


# The simple expert baselines for the data-driven kinds: random-feature ridge regression with its family,
# bandwidth, width and penalty chosen on held-out training data, and, as the trivial reference, the same file
# with no random features: the best linear (affine) map from the inputs, ridge on the raw inputs / sensors.
EXPERT_BASELINE_BY_KIND: dict[str, str] = {
    "regression": "random_feature_ridge.py",
    "operator": "random_feature_ridge.py",
}
LINEAR_MAP_CONFIG = {"features": []}


def expert_baseline_path(kind: str) -> Path:
    """Path of the expert baseline for ``kind`` (``"regression"`` or ``"operator"``)."""
    try:
        return _HERE / EXPERT_BASELINE_BY_KIND[kind]
    except KeyError:
        raise KeyError(
            f"no expert baseline for problem kind {kind!r}; known kinds: {sorted(EXPERT_BASELINE_BY_KIND)}"
        ) from None


def with_config(source: str, overrides: dict) -> str:
    """``source`` with the values of the one-line ``CONFIG`` entries named in ``overrides`` replaced (the
    trailing comment, if any, is kept)."""
    lines = source.split("\n")
    for key, value in overrides.items():
        prefix = f'    "{key}": '
        index = next((i for i, line in enumerate(lines) if line.startswith(prefix)), None)
        if index is None:
            raise KeyError(f"CONFIG has no one-line entry {key!r}")
        _, comment_sep, comment = lines[index].partition(",  # ")
        lines[index] = prefix + repr(value) + "," + (f"  # {comment}" if comment_sep else "")
    return "\n".join(lines)


def expert_baseline_source(kind: str) -> str:
    """Source of the expert baseline for ``kind``: random-feature ridge regression."""
    return expert_baseline_path(kind).read_text()


def linear_map_source(kind: str) -> str:
    """Source of the trivial baseline for ``kind``: the best linear map (ridge on the raw inputs / sensor
    values, the penalty chosen on held-out training data)."""
    return with_config(expert_baseline_source(kind), LINEAR_MAP_CONFIG)


__all__ = [
    "BASELINE_BY_KIND",
    "EXPERT_BASELINE_BY_KIND",
    "LINEAR_MAP_CONFIG",
    "TUNED_PINN_CONFIG",
    "baseline_path",
    "baseline_source",
    "expert_baseline_path",
    "expert_baseline_source",
    "linear_map_source",
    "tuned_baseline_source",
    "with_config",
]

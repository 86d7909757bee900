"""The trusted scorer: the only place where predictions meet the hidden targets.

It runs in the service's own process, outside the sandbox, and reads nothing from the candidate but the
predictions file, which it opens without following links and checks before use (size, dtype, shape,
finiteness). Whatever the candidate printed or sent on its channel plays no part in the score.
"""

from __future__ import annotations

import math
import os
import stat
from typing import Callable, Literal

import numpy as np
from pydantic import BaseModel

MetricName = Literal["rel_l2", "mse"]


def relative_l2(predictions: np.ndarray, targets: np.ndarray) -> float:
    """||p - t||_2 / ||t||_2 over all entries; falls back to the absolute norm for an all-zero target."""
    diff = np.linalg.norm((predictions - targets).ravel())
    norm = np.linalg.norm(targets.ravel())
    return float(diff / norm) if norm > 0 else float(diff)


def mean_squared_error(predictions: np.ndarray, targets: np.ndarray) -> float:
    return float(np.mean((predictions - targets) ** 2))


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "rel_l2": relative_l2,
    "mse": mean_squared_error,
}


class ScoreResult(BaseModel):
    ok: bool
    reason: str | None = None
    metric: str
    score: float | None = None
    metrics: dict[str, float] = {}


class PredictionError(ValueError):
    """The predictions cannot be scored; the message says why in words a user understands."""


def load_predictions(path: str | os.PathLike[str], expected_shape: tuple[int, ...]) -> np.ndarray:
    """Open a candidate's ``.npy`` safely: no links, bounded size, numeric, expected shape, finite."""
    expected = tuple(int(n) for n in expected_shape)
    count = int(np.prod(expected)) if expected else 1
    max_bytes = count * 16 + 65536
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise PredictionError(f"predictions file cannot be opened safely: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise PredictionError("predictions file is not a regular file")
        if info.st_size > max_bytes:
            raise PredictionError(f"predictions file is {info.st_size} bytes, more than {max_bytes} allowed "
                                  f"for shape {expected}")
        try:
            array = np.load(handle, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise PredictionError(f"predictions file is not a valid .npy array: {exc}") from exc
    if not isinstance(array, np.ndarray):
        raise PredictionError("predictions are not a single array")
    if array.dtype.kind not in "fiu":
        raise PredictionError(f"predictions have dtype {array.dtype}, expected a real number type")
    if array.shape != expected:
        if array.size == count and tuple(d for d in array.shape if d != 1) == tuple(d for d in expected if d != 1):
            array = array.reshape(expected)  # only singleton axes differ, e.g. (M, 1) for (M,)
        else:
            raise PredictionError(f"predictions have shape {tuple(array.shape)}, expected {expected}")
    array = array.astype(np.float64, copy=False)
    bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
    if bad:
        raise PredictionError(f"predictions contain {bad} non-finite values (NaN or inf)")
    return array


def score_arrays(predictions: np.ndarray, targets: np.ndarray, metric: str) -> ScoreResult:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {sorted(METRICS)}")
    values = {name: fn(predictions, targets) for name, fn in METRICS.items()}
    values["max_abs_error"] = float(np.max(np.abs(predictions - targets))) if predictions.size else 0.0
    score = values[metric]
    if not math.isfinite(score):
        return ScoreResult(ok=False, reason="the metric is not finite", metric=metric, metrics=values)
    return ScoreResult(ok=True, metric=metric, score=score, metrics=values)


def score_file(path: str | os.PathLike[str], targets: np.ndarray, metric: str) -> ScoreResult:
    try:
        predictions = load_predictions(path, tuple(targets.shape))
    except PredictionError as exc:
        return ScoreResult(ok=False, reason=str(exc), metric=metric)
    return score_arrays(predictions, np.asarray(targets, dtype=np.float64), metric)

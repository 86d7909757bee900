"""Expert baseline for regression and operator problems: random-feature ridge regression.

What a competent user writes before reaching for a neural network: map the (standardised) inputs through a
fixed random feature map, keep the inputs themselves as an affine part, and fit the output layer by ridge
regression in closed form, in float64. The only choices, the feature family, its bandwidth, the number of
features and the ridge penalty, are made on a held-out split of the *training* data (k-fold when the
training set is small), then the chosen model is refitted on all of it.

    regression   x (n, d) -> y (n,) or (n, k): features of the standardised x.
    operator     the input function's sensor values u (N, m) -> its outputs s (N, P) at the training
                 locations y, all P at once (one ridge problem with P right-hand sides); query locations
                 that are not training locations are interpolated from those P.

Random features (Rahimi & Recht, "Random features for large-scale kernel machines", NIPS 2007):

    fourier   sqrt(2) cos(w . x / l + b),  w ~ N(0, I), b ~ U(0, 2 pi)   (a Gaussian kernel of width l)
    tanh      tanh(w . (x - c) / l),       w ~ N(0, I), c a random training input (a hyperplane through
                                                                           the data, as in extreme learning)

with l = scale x the median distance between training inputs, so the bandwidth grid is unit-free.
``CONFIG["features"] = []`` leaves the affine part alone: the best linear map (ridge on the raw inputs).

Contract: the same as the other baselines (``solve(task)`` returns ``task.output_shape`` predictions at
``task.query_inputs``); numpy only, so a sandbox run skips the heavy imports. Nothing here reads the query
inputs before the model is chosen, and the hidden targets never reach the candidate at all.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

# ---------------------------------------------------------------------------------------------------------
# Hyper-parameters (the search grid; everything in it is chosen on held-out training data)
# ---------------------------------------------------------------------------------------------------------
CONFIG: dict[str, Any] = {
    "features": ["fourier", "tanh"],  # random feature families tried ([] = the affine part only)
    "scales": [0.01, 0.03, 0.1, 0.3, 1.0, 3.0],  # bandwidths, in median distances between training inputs
    "search_width": 512,  # features per model while family x scale is searched
    "widths": [1024, 2048, 4096],  # then the best family and scale at these widths, as time allows
    "linear": True,  # keep the standardised inputs as features too (the affine part)
    "ridge": [10.0**-k for k in range(0, 17)],  # penalties, relative to the largest squared singular value
    "holdout_fraction": 0.2,  # the held-out share of the training data...
    "kfold_below": 500,  # ...or k-fold cross-validation when there are fewer training samples than this
    "folds": 5,
    "max_selection_rows": 5000,  # at most this many training rows are used for the model search
    "median_rows": 500,  # rows used to measure the median distance between inputs
    "prior_seconds_per_flop": 1e-9,  # assumed speed of an SVD until one has been timed
    "margin_fraction": 0.1,  # fraction of the wall budget kept back for the final fit and prediction...
    "margin_min_s": 0.3,  # ...but at least this many seconds...
    "margin_max_s": 5.0,  # ...and at most this many
}

FAMILIES = ("linear", "fourier", "tanh")  # index used in the training log


# ---------------------------------------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------------------------------------
class FeatureMap:
    """A fixed random feature map of standardised inputs; the same seed gives the same map."""

    def __init__(self, family: str, width: int, scale: float, x_train: np.ndarray, seed: int) -> None:
        self.family, self.width, self.scale = family, int(width), float(scale)
        d = x_train.shape[1]
        rng = np.random.default_rng([int(seed), FAMILIES.index(family), int(width)])
        if family == "linear" or width == 0:
            self.w = np.zeros((d, 0))
            self.b = np.zeros(0)
            return
        bandwidth = scale * median_distance(x_train, CONFIG["median_rows"], seed)
        self.w = rng.standard_normal((d, self.width)) / bandwidth
        if family == "fourier":
            self.b = rng.uniform(0.0, 2.0 * np.pi, self.width)
        elif family == "tanh":
            centres = x_train[rng.integers(0, len(x_train), self.width)]
            self.b = -np.einsum("ij,ji->i", centres, self.w)  # w . (x - c) = w . x - w . c
        else:
            raise ValueError(f"unknown feature family {family!r}")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        parts = [x] if CONFIG["linear"] or self.width == 0 else []
        if self.width:
            z = x @ self.w + self.b
            parts.append(math.sqrt(2.0) * np.cos(z) if self.family == "fourier" else np.tanh(z))
        return np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]


def median_distance(x: np.ndarray, rows: int, seed: int) -> float:
    """Median Euclidean distance between distinct training inputs (a subsample of ``rows`` of them)."""
    if len(x) > rows:
        x = x[np.random.default_rng(int(seed)).choice(len(x), rows, replace=False)]
    squared = np.sum(x**2, axis=1)
    distances = np.sqrt(np.maximum(squared[:, None] + squared[None, :] - 2.0 * x @ x.T, 0.0))
    upper = distances[np.triu_indices(len(x), k=1)]
    upper = upper[upper > 0]
    return float(np.median(upper)) if len(upper) else 1.0


# ---------------------------------------------------------------------------------------------------------
# Ridge regression in closed form
# ---------------------------------------------------------------------------------------------------------
class Ridge:
    """Centred ridge regression through the thin SVD of the feature matrix: every penalty costs one small
    matrix product once the SVD is known. Penalties are relative to the largest squared singular value."""

    def __init__(self, phi: np.ndarray, y: np.ndarray) -> None:
        self.phi_mean, self.y_mean = phi.mean(axis=0), y.mean(axis=0)
        u, self.s, vt = np.linalg.svd(phi - self.phi_mean, full_matrices=False)
        self.v = vt.T
        self.uty = u.T @ (y - self.y_mean)

    def coefficients(self, relative_penalty: float) -> np.ndarray:
        penalty = relative_penalty * (self.s[0] ** 2 if len(self.s) and self.s[0] > 0 else 1.0)
        return self.v @ (self.uty * (self.s / (self.s**2 + penalty))[:, None])

    def held_out_errors(self, phi_val: np.ndarray, y_val: np.ndarray, penalties: list[float]) -> np.ndarray:
        """Sum of squared held-out errors for each penalty."""
        projected = (phi_val - self.phi_mean) @ self.v
        residual0 = y_val - self.y_mean
        errors = []
        for relative in penalties:
            penalty = relative * (self.s[0] ** 2 if len(self.s) and self.s[0] > 0 else 1.0)
            prediction = projected @ (self.uty * (self.s / (self.s**2 + penalty))[:, None])
            errors.append(float(np.sum((residual0 - prediction) ** 2)))
        return np.asarray(errors)

    def predict(self, phi: np.ndarray, relative_penalty: float) -> np.ndarray:
        return (phi - self.phi_mean) @ self.coefficients(relative_penalty) + self.y_mean


# ---------------------------------------------------------------------------------------------------------
# Model selection on the training data
# ---------------------------------------------------------------------------------------------------------
def splits(n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(fit rows, held-out rows) pairs: k folds for small training sets, one held-out share otherwise."""
    order = np.random.default_rng([int(seed), 1]).permutation(n)
    if n < 4:  # nothing to hold out: fit and judge on the same rows (the penalty grid still regularises)
        return [(order, order)]
    if n < CONFIG["kfold_below"]:
        folds = np.array_split(order, min(int(CONFIG["folds"]), n))
        return [(np.concatenate(folds[:i] + folds[i + 1 :]), folds[i]) for i in range(len(folds))]
    n_val = max(1, int(round(CONFIG["holdout_fraction"] * n)))
    return [(order[n_val:], order[:n_val])]


def _margin(task: Any) -> float:
    wall = float(task.budget.wall_seconds)
    return min(CONFIG["margin_max_s"], max(CONFIG["margin_min_s"], CONFIG["margin_fraction"] * wall))


def select(task: Any, x: np.ndarray, y: np.ndarray) -> tuple[tuple[str, float, int], float, float, int]:
    """Search family x scale at the search width, then widths for the best of them; return the best
    (family, scale, width), its relative penalty, its held-out error (root of the squared error over that of
    predicting the fit rows' mean: 1 is no better than the mean) and the number of models tried."""
    seed = int(task.seed)
    rows = np.arange(len(x))
    if len(x) > CONFIG["max_selection_rows"]:
        rng = np.random.default_rng([seed, 2])
        rows = np.sort(rng.choice(len(x), CONFIG["max_selection_rows"], replace=False))
    xs, ys = x[rows], y[rows]
    folds = splits(len(xs), seed)
    total = sum(float(np.sum((ys[val] - ys[fit].mean(axis=0)) ** 2)) for fit, val in folds) or 1.0
    penalties = list(CONFIG["ridge"])
    margin = _margin(task)
    results: dict[tuple[str, float, int], tuple[float, float]] = {}
    # Seconds per unit of SVD work: a cautious prior (1 GFlop/s) until the random-feature fits measure it.
    seconds_per_flop = [CONFIG["prior_seconds_per_flop"], False]
    step = [0]

    def svd_work(rows: int, n_features: int) -> float:
        return 4.0 * rows * min(rows, n_features) * n_features

    def flops(n_features: int) -> float:
        """Work of the thin SVDs of one model on every fold."""
        return sum(svd_work(len(fit), n_features) for fit, _ in folds)

    def try_model(family: str, scale: float, width: int) -> None:
        key = (family, scale, width)
        if key in results:
            return
        n_features = width + (x.shape[1] if CONFIG["linear"] or width == 0 else 0)
        # This model on every fold, plus its final refit on all training rows, must fit in the time left (the
        # affine model, the first one tried, always runs).
        estimate = seconds_per_flop[0] * (flops(n_features) + svd_work(len(x), n_features))
        # Under a step budget every model of the (bounded) ladder is fitted: a choice that depended on the
        # measured speed would make the result depend on the machine's load.
        if results and not task.budget.max_steps and task.time_left(margin) < estimate:
            return
        started = time.monotonic()
        features = FeatureMap(family, width, scale, x, seed)  # bandwidth from all training inputs
        phi = features(xs)
        errors = np.zeros(len(penalties))
        for fit, val in folds:
            errors += Ridge(phi[fit], ys[fit]).held_out_errors(phi[val], ys[val], penalties)
        best = int(np.argmin(errors))
        results[key] = (math.sqrt(errors[best] / total), penalties[best])
        if width >= 64:  # small fits are all overhead and would make larger ones look dearer than they are
            measured = (time.monotonic() - started) / flops(n_features)
            seconds_per_flop[0] = max(seconds_per_flop[0], measured) if seconds_per_flop[1] else measured
            seconds_per_flop[1] = True
        step[0] += 1
        task.log(step[0], holdout_error=results[key][0], family=FAMILIES.index(family), scale=scale,
                 width=width, ridge=penalties[best])

    try_model("linear", 0.0, 0)
    for family in CONFIG["features"]:
        for scale in CONFIG["scales"]:
            try_model(family, float(scale), int(CONFIG["search_width"]))
    family, scale, _ = min(results, key=lambda k: results[k][0])
    if family != "linear":
        for width in CONFIG["widths"]:
            try_model(family, scale, int(width))
    key = min(results, key=lambda k: results[k][0])
    return key, results[key][1], results[key][0], step[0]


# ---------------------------------------------------------------------------------------------------------
# Data handling
# ---------------------------------------------------------------------------------------------------------
class Standardiser:
    """Per-column (``per_column=True``) or single-scalar zero-mean, unit-variance scaling."""

    def __init__(self, data: np.ndarray, per_column: bool = True) -> None:
        axis = 0 if per_column else None
        self.mean = np.mean(data, axis=0, keepdims=True)  # outputs and inputs are always centred per column
        std = np.std(data - self.mean, axis=axis, keepdims=True)
        self.std = np.where(std > 0, std, 1.0)

    def forward(self, data: np.ndarray) -> np.ndarray:
        return (data - self.mean) / self.std

    def inverse(self, data: np.ndarray) -> np.ndarray:
        return data * self.std + self.mean


def resample_locations(values: np.ndarray, y_train: np.ndarray, y_query: np.ndarray) -> np.ndarray:
    """Outputs at the training locations (N, P) -> outputs at the query locations (N, P_query).

    Identical locations are copied; otherwise 1-D locations are interpolated linearly, and k-D ones by
    inverse-distance weights over the k + 1 nearest training locations.
    """
    if y_query.shape == y_train.shape and np.array_equal(y_query, y_train):
        return values
    out = np.empty((values.shape[0], len(y_query)))
    if y_train.shape[1] == 1:
        order = np.argsort(y_train[:, 0])
        grid = y_train[order, 0]
        for i in range(values.shape[0]):
            out[i] = np.interp(y_query[:, 0], grid, values[i, order])
        return out
    k = min(len(y_train), y_train.shape[1] + 1)
    for j, point in enumerate(y_query):
        distance = np.sqrt(np.sum((y_train - point) ** 2, axis=1))
        nearest = np.argsort(distance)[:k]
        if distance[nearest[0]] == 0:
            out[:, j] = values[:, nearest[0]]
        else:
            weights = 1.0 / distance[nearest]
            out[:, j] = values[:, nearest] @ (weights / weights.sum())
    return out


def fit_and_predict(task: Any, x_raw: np.ndarray, y_raw: np.ndarray, per_column: bool) -> tuple[Any, Any]:
    """Choose the model on training data, refit it on all of it; return a predictor of raw outputs."""
    x_scaler, y_scaler = Standardiser(x_raw, per_column), Standardiser(y_raw, per_column)
    x, y = x_scaler.forward(x_raw), y_scaler.forward(y_raw)
    (family, scale, width), penalty, held_out, models = select(task, x, y)
    features = FeatureMap(family, width, scale, x, int(task.seed))
    ridge = Ridge(features(x), y)

    def predict(x_query_raw: np.ndarray, chunk: int = 16_384) -> np.ndarray:
        x_query = x_scaler.forward(x_query_raw)
        starts = range(0, len(x_query), chunk)
        parts = [ridge.predict(features(x_query[i : i + chunk]), penalty) for i in starts]
        return y_scaler.inverse(np.concatenate(parts, axis=0) if parts else np.zeros((0, y.shape[1])))

    return predict, {"family": family, "scale": scale, "width": width, "ridge": penalty, "holdout": held_out,
                     "models": models}


def solve(task: Any) -> np.ndarray:
    """Entry point: regression or operator, by ``task.kind``."""
    task.seed_everything()
    if task.kind == "operator":
        u_raw = np.asarray(task.train["u"], dtype=np.float64)
        u_raw = u_raw.reshape(len(u_raw), -1)
        y_train = np.asarray(task.train["y"], dtype=np.float64)
        y_train = y_train[:, None] if y_train.ndim == 1 else y_train.reshape(len(y_train), -1)
        s_raw = np.asarray(task.train["s"], dtype=np.float64).reshape(len(u_raw), len(y_train))
        # One scalar scale for sensor values and for outputs: each row samples one function, and per-sensor
        # scaling would distort its shape (outputs are still centred per location).
        predict, chosen = fit_and_predict(task, u_raw, s_raw, per_column=False)
        u_query = np.asarray(task.query_inputs["u"], dtype=np.float64).reshape(-1, u_raw.shape[1])
        y_query = np.asarray(task.query_inputs["y"], dtype=np.float64).reshape(-1, y_train.shape[1])
        prediction = resample_locations(predict(u_query), y_train, y_query)
    else:
        x_raw = np.asarray(task.train["x"], dtype=np.float64)
        x_raw = x_raw.reshape(len(x_raw), -1)
        y_raw = np.asarray(task.train["y"], dtype=np.float64).reshape(len(x_raw), -1)
        predict, chosen = fit_and_predict(task, x_raw, y_raw, per_column=True)
        x_query = np.asarray(task.query_inputs["x"], dtype=np.float64).reshape(-1, x_raw.shape[1])
        prediction = predict(x_query)
    task.log(chosen["models"] + 1, holdout_error=chosen["holdout"], family=FAMILIES.index(chosen["family"]),
             scale=chosen["scale"], width=chosen["width"], ridge=chosen["ridge"])
    return prediction.reshape(task.output_shape)

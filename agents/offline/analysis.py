"""The data analyst: facts about a problem's inputs (never its targets) that guide the proposer.

``analyze_data`` looks at what a candidate would see (the public spec, the training arrays, the query
inputs) and returns numbers (``facts``) plus a short markdown report. For PINN problems it reads the
symbolic equation (``agents/offline/pde_facts.py``): which terms are transport, diffusion, reaction, ...,
their sizes against the domain, and what they imply (temporal frequency, layer widths, stiffness). For regression it looks for jumps
(between sorted neighbours of one input; across axis-aligned planes of several inputs), noise and dominant
frequencies; for operator learning at the sensor layout (a regular line or 2-D tensor grid, or scattered), the
input-function statistics and whether the map from inputs to outputs is close to linear.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
from pydantic import BaseModel, Field


class DataAnalysis(BaseModel):
    """What the data analyst found: machine-readable ``facts`` and a ``report`` in markdown."""

    facts: dict[str, Any] = Field(default_factory=dict)
    report: str = ""


def analyze_data(
    spec: Any, train: dict[str, np.ndarray], query_inputs: dict[str, np.ndarray]
) -> DataAnalysis:
    """Analyse a problem from its public spec (a ``ProblemSpec`` or an equivalent dict) and its inputs."""
    kind = _get(spec, "kind")
    budget = _get(spec, "budget")
    wall = float(_get(budget, "wall_seconds", 60.0)) if budget is not None else 60.0
    base = {
        "kind": kind,
        "problem": _get(spec, "name"),
        "budget_seconds": wall,
        "cpu_threads": int(_get(budget, "cpu_threads", 1)) if budget is not None else 1,
    }
    steps = _get(budget, "max_steps", None) if budget is not None else None
    if steps:
        base["budget_steps"] = int(steps)
    if kind == "pinn":
        facts, lines = _pinn(spec, train, query_inputs)
    elif kind == "regression":
        facts, lines = _regression(train, query_inputs)
    elif kind == "operator":
        facts, lines = _operator(train, query_inputs)
    else:
        raise ValueError(f"unknown problem kind {kind!r}")
    facts = {**base, **facts}
    unit = f"{steps} optimiser steps (wall cap {wall:g} s)" if steps else f"{wall:g} s"
    header = f"# Data analysis: {base['problem']} ({kind}, {unit} budget on {base['cpu_threads']} CPU thread(s))"
    return DataAnalysis(facts=_jsonable(facts), report="\n".join([header, "", *lines]).strip() + "\n")


# ------------------------------------------------------------------------------------------------------------
# PINN problems
# ------------------------------------------------------------------------------------------------------------
def _pinn(spec: Any, train: dict[str, np.ndarray], query: dict[str, np.ndarray]) -> tuple[dict, list[str]]:
    """Facts from the symbolic equation: its terms, their sizes against the domain, the data's frequencies.

    Nothing here knows any equation by name: the same derivation runs on a built-in and on a user's PDE.
    """
    from agents.offline.pde_facts import pde_facts
    from problems.pde_symbolic import to_symbolic
    from sandbox.runtime.pde import build_pde

    try:
        pde = build_pde(_get(spec, "pde"))
    except Exception as exc:  # noqa: BLE001 - the analysis informs the proposer; it must not sink a campaign
        error = f"{type(exc).__name__}: {exc}"[:300]
        counts = {"n_interior": len(train.get("x_interior", [])), "n_query": len(query.get("x", []))}
        return {"analysis_error": error, **counts}, [
            "## Equation", "", f"- The PDE spec could not be compiled ({error}); no physics facts."]
    bounds = np.asarray(pde.bounds, dtype=np.float64)
    facts: dict[str, Any] = {
        "equation": pde.equation,
        "params": dict(pde.params),
        "variables": list(pde.variables),
        "time_variable": pde.time_variable,
        "bounds": bounds.tolist(),
        "periodic": list(pde.periodic),
        "excluded_boxes": len(pde.exclude),
        "exact_constraints": list(pde.exact_constraints),
        "time_dependent": pde.time_variable is not None,
        "has_dirichlet": any(c.is_dirichlet for c in pde.conditions),
        "n_interior": len(train.get("x_interior", [])),
        "n_initial": len(train.get("x_initial", [])),
        "n_boundary": len(train.get("x_boundary", [])),
        "n_observed": len(train.get("x_observed", [])),
        "n_query": len(query.get("x", [])),
    }
    physics, sentences = pde_facts(to_symbolic(pde))
    facts.update(physics)
    lines = ["## Equation", "", f"- {pde.describe()}"]
    lines += ["", "## What the equation implies", ""]
    if "initial" in pde.exact_constraints:
        sentences.append("The initial data can be imposed exactly (u = g0 + (t - t0) N, with the velocity term if given).")
    if "dirichlet" in pde.exact_constraints:
        sentences.append("The Dirichlet data can be imposed exactly (u = G + D N with D vanishing on those faces).")
    lines += [f"- {sentence}" for sentence in sentences or ["No term stands out as a known source of difficulty."]]
    lines += [
        "",
        "## Points",
        "",
        (
            f"- {facts['n_interior']} collocation points given ({facts['n_initial']} initial, "
            f"{facts['n_boundary']} boundary, {facts['n_observed']} observations); {facts['n_query']} query "
            "points. More points can be sampled from the spec."
        ),
    ]
    return facts, lines


# ------------------------------------------------------------------------------------------------------------
# Regression problems
# ------------------------------------------------------------------------------------------------------------
def find_jumps(x: np.ndarray, y: np.ndarray) -> list[dict[str, float]]:
    """Discontinuities of 1D samples, placed half-way between the two samples that straddle them.

    An increment between sorted neighbours counts as a jump when it dominates its neighbourhood (at least
    2.5x every other increment within 8 samples on either side), is well above the typical increment, and is
    a sizeable share (20%) of the output range. Dominance rather than size alone is what separates a jump from
    a fast but resolved oscillation, whose steep parts produce several large increments in a row.
    """
    order = np.argsort(x)
    x, y = x[order], y[order]
    steps = np.abs(np.diff(y))
    if len(steps) < 8:
        return []
    typical = float(np.median(steps))
    spread = float(np.ptp(y))
    jumps = []
    for i, step in enumerate(steps):
        around = np.concatenate([steps[max(0, i - 8) : i], steps[i + 1 : i + 9]])
        if len(around) < 4:
            continue
        largest_other = float(around.max())
        if step > 2.5 * largest_other and step > 3 * typical and step > 0.2 * spread:
            jumps.append(
                {
                    "location": float(0.5 * (x[i] + x[i + 1])),
                    "size": float(y[i + 1] - y[i]),
                    "relative_to_local": float(step / max(largest_other, 1e-12)),
                    "gap": float(x[i + 1] - x[i]),
                }
            )
    return jumps


def neighbour_pairs(z: np.ndarray, neighbours: int = 8, chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """The pairs (i < j) of the ``neighbours``-nearest-neighbour graph of the rows of ``z`` (each pair once)."""
    n = len(z)
    k = min(neighbours, n - 1)
    if k < 1:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    squared = np.sum(z * z, axis=1)
    rows, cols = [], []
    for start in range(0, n, chunk):
        block = z[start : start + chunk]
        distance = squared[start : start + chunk, None] - 2.0 * block @ z.T + squared[None, :]
        distance[np.arange(len(block)), np.arange(start, start + len(block))] = np.inf  # not its own neighbour
        nearest = np.argpartition(distance, k - 1, axis=1)[:, :k]
        rows.append(np.repeat(np.arange(start, start + len(block)), k))
        cols.append(nearest.reshape(-1))
    i, j = np.concatenate(rows), np.concatenate(cols)
    low, high = np.minimum(i, j), np.maximum(i, j)
    unique = np.unique(low * n + high)
    return unique // n, unique % n


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])


def place_plane(
    coordinate: np.ndarray, i: np.ndarray, j: np.ndarray, large: np.ndarray, cut: np.ndarray, c: float, band: float
) -> float:
    """Where exactly the plane goes: half-way between the samples on either side of the jump.

    The ends of the pairs that the scanned plane cuts with a large difference get their side (below or above);
    the sides spread over the pairs near the plane (a large difference: the other side, else the same), and the
    plane is moved to the gap between sorted coordinates that misplaces the fewest sided samples."""
    side = np.zeros(len(coordinate))
    below = coordinate[i] < coordinate[j]
    side[np.where(below, i, j)[large & cut]] = -1.0
    side[np.where(below, j, i)[large & cut]] = 1.0
    near = (np.abs(coordinate[i] - c) < band) & (np.abs(coordinate[j] - c) < band)
    flip = np.where(large, -1.0, 1.0)
    for _ in range(4):
        for source, target in ((i, j), (j, i)):
            spread = near & (side[source] != 0) & (side[target] == 0)
            side[target[spread]] = side[source[spread]] * flip[spread]
    known = np.flatnonzero(side != 0)
    if len(known) < 2:
        return c
    order = known[np.argsort(coordinate[known])]
    values, labels = coordinate[order], side[order]
    # misplaced samples if the plane lies after the first k sided samples: those above among them, below after
    errors = np.concatenate([[0], np.cumsum(labels > 0)]) + np.concatenate([np.cumsum((labels < 0)[::-1])[::-1], [0]])
    middles = np.concatenate([[values[0]], 0.5 * (values[1:] + values[:-1]), [values[-1]]])
    valid = np.concatenate([[False], values[1:] > values[:-1], [False]])
    if not valid.any():
        return c
    best = np.flatnonzero(valid & (errors == errors[valid].min()))
    return float(middles[best[np.argmin(np.abs(middles[best] - c))]])


def find_axis_jumps(x: np.ndarray, y: np.ndarray, max_jumps: int = 3) -> list[dict[str, float]]:
    """Discontinuities of scattered samples in d >= 2 inputs across axis-aligned planes ``x_k = c``.

    The samples are joined to their 8 nearest neighbours (in standardised inputs). For a plane ``x_k = c``,
    the pairs it cuts differ by the jump wherever the jump runs along the whole plane, while pairs close to the
    plane on either side differ only by the local variation (gradient times spacing, plus noise). Pairs beside
    the plane are weighted by their extent along ``x_k`` (a plane cuts a pair with a chance proportional to
    it), so that both sets see the variation along ``x_k`` alike. A plane counts when the median difference
    across it is 3x the (weighted) median difference beside it, on each side, and a fifth of the output range; thresholds are scanned at the midpoints between sample coordinates
    (2% to 98% of the samples on each side), the best plane is placed between the samples that straddle it, and
    the search repeats with the pairs already explained left out. At most 3000 samples are used (a fixed draw).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    n, d = x.shape
    if d < 2 or n < 40 or len(y) != n or not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        return []
    if n > 3000:
        keep = np.sort(np.random.default_rng(0).choice(n, 3000, replace=False))
        x, y, n = x[keep], y[keep], 3000
    with np.errstate(all="ignore"):
        spread = float(np.max(y) - np.min(y))
        size = np.max(np.abs(x), axis=0)
        unit = x / np.where(size > 0, size, 1.0)  # first into [-1, 1]: the std of huge or tiny inputs is safe
        centre, scale = np.mean(unit, axis=0), np.std(unit, axis=0)
        active = np.isfinite(scale) & (scale > 0) & np.isfinite(centre)
        if not np.isfinite(spread) or spread <= 0 or not active.any():
            return []
        z = np.where(active, (unit - centre) / np.where(active, scale, 1.0), 0.0)
    i, j = neighbour_pairs(z)
    if len(i) < 16:
        return []
    difference = np.abs(y[i] - y[j])
    explained = np.zeros(len(i), dtype=bool)
    jumps: list[dict[str, float]] = []
    for _ in range(max_jumps):
        best = None
        for axis in np.flatnonzero(active):
            a, b = x[i, axis], x[j, axis]
            low, high = np.minimum(a, b), np.maximum(a, b)
            extent = float(np.median((high - low)[high > low])) if np.any(high > low) else 0.0
            values = np.unique(x[:, axis])
            if extent <= 0 or len(values) < 8:
                continue
            middles = 0.5 * (values[1:] + values[:-1])
            share = np.searchsorted(np.sort(x[:, axis]), middles) / n  # fraction of samples below each midpoint
            middles = middles[(share >= 0.02) & (share <= 0.98)]
            if len(middles) > 97:
                middles = middles[np.linspace(0, len(middles) - 1, 97).round().astype(int)]
            band = 2.0 * extent
            along = high - low  # a plane x_k = c cuts a pair with a chance proportional to its extent along k
            for c in middles:
                if any(found["axis"] == axis and abs(found["location"] - c) < band for found in jumps):
                    continue
                cut = (low < c) & (high > c) & ~explained
                if cut.sum() < 8:
                    continue
                across = float(np.median(difference[cut]))
                if across <= 0.2 * spread:
                    continue
                local = 0.0  # the variation beside the plane, on the side where it is larger
                for side in (high < c, low > c):
                    beside = side & ~explained & (np.abs(a - c) < band) & (np.abs(b - c) < band) & (along > 0)
                    if beside.sum() < 4:
                        local = np.inf
                        break
                    local = max(local, weighted_median(difference[beside], along[beside]))
                ratio = across / max(local, 1e-12 * spread)
                if ratio > 3.0 and (best is None or ratio > best[0]):
                    best = (ratio, int(axis), float(c), across, extent)
        if best is None:
            break
        ratio, axis, c, across, extent = best
        a, b = x[i, axis], x[j, axis]
        low, high = np.minimum(a, b), np.maximum(a, b)
        cut = (low < c) & (high > c) & ~explained
        c = place_plane(x[:, axis], i, j, difference > 0.5 * across, cut, c, 2.0 * extent)
        cut = (low < c) & (high > c)
        sign = np.sign(np.median(np.where(a[cut] > b[cut], 1.0, -1.0) * (y[i[cut]] - y[j[cut]])))
        jumps.append(
            {
                "axis": axis,
                "location": c,
                "size": float(sign * across),
                "relative_to_local": float(ratio),
                "gap": extent,
            }
        )
        explained |= cut
    return jumps


def _noise_estimate(x: np.ndarray, y: np.ndarray, exclude: set[int]) -> float:
    """Noise std from the deviation of each sample from the line through its two neighbours (robust MAD)."""
    deviations = []
    for i in range(1, len(x) - 1):
        if i in exclude or i - 1 in exclude or i + 1 in exclude:
            continue
        span = x[i + 1] - x[i - 1]
        if span <= 0:
            continue
        w = (x[i] - x[i - 1]) / span
        deviations.append(y[i] - ((1 - w) * y[i - 1] + w * y[i + 1]))
    if len(deviations) < 5:
        return float("nan")
    deviations = np.asarray(deviations)
    mad = float(np.median(np.abs(deviations - np.median(deviations))))
    return 1.4826 * mad / math.sqrt(1.5)


def _dominant_frequency(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(cycles per unit x, share of the detrended energy) of the strongest oscillation of uneven samples."""
    if len(x) < 8 or np.ptp(x) <= 0:
        return 0.0, 0.0
    grid = np.linspace(x.min(), x.max(), 256)
    values = np.interp(grid, x, y)
    unit = np.linspace(0.0, 1.0, len(grid))  # detrend in [0, 1]: a fit in x is singular for tiny or huge x
    values = values - np.polyval(np.polyfit(unit, values, 1), unit)
    spectrum = np.abs(np.fft.rfft(values * np.hanning(len(values)))) ** 2
    spectrum[0] = 0.0
    if not spectrum.any():
        return 0.0, 0.0
    peak = int(np.argmax(spectrum))
    return float(peak / np.ptp(grid)), float(spectrum[peak] / spectrum.sum())


def _regression(train: dict[str, np.ndarray], query: dict[str, np.ndarray]) -> tuple[dict, list[str]]:
    x = np.asarray(train["x"], dtype=np.float64).reshape(len(train["x"]), -1)
    y = np.asarray(train["y"], dtype=np.float64).reshape(len(x), -1)
    xq = np.asarray(query["x"], dtype=np.float64).reshape(-1, x.shape[1])
    facts: dict[str, Any] = {
        "n_samples": len(x),
        "input_dim": int(x.shape[1]),
        "output_dim": int(y.shape[1]),
        "x_min": x.min(axis=0).tolist(),
        "x_max": x.max(axis=0).tolist(),
        "x_std": x.std(axis=0).tolist(),
        "y_mean": float(y.mean()),
        "y_std": float(y.std()),
        "y_min": float(y.min()),
        "y_max": float(y.max()),
        "n_query": len(xq),
        "query_outside_train": float(np.mean((xq < x.min(axis=0)) | (xq > x.max(axis=0)))),
        "jumps": [],
        "noise_std": None,
        "pieces": [],
    }
    lines = [
        "## Samples",
        "",
        f"- {len(x)} samples of a {x.shape[1]}-d input; x in "
        + ", ".join(f"[{lo:.3g}, {hi:.3g}]" for lo, hi in zip(facts["x_min"], facts["x_max"]))
        + f"; y in [{facts['y_min']:.3g}, {facts['y_max']:.3g}] (std {facts['y_std']:.3g}).",
        f"- {len(xq)} query points; {facts['query_outside_train']:.1%} outside the training range.",
    ]
    if x.shape[1] == 1 and y.shape[1] == 1:
        order = np.argsort(x[:, 0])
        xs, ys = x[order, 0], y[order, 0]
        jumps = find_jumps(xs, ys)
        facts["jumps"] = jumps
        straddle = {int(np.searchsorted(xs, j["location"])) for j in jumps}
        exclude = straddle | {i - 1 for i in straddle}
        noise = _noise_estimate(xs, ys, exclude)
        facts["noise_std"] = None if math.isnan(noise) else noise
        facts["noise_to_signal"] = None if math.isnan(noise) else noise / max(facts["y_std"], 1e-12)
        edges = [xs[0] - 1e-12] + [j["location"] for j in jumps] + [xs[-1] + 1e-12]
        for lo, hi in itertools.pairwise(edges):
            mask = (xs > lo) & (xs < hi)
            frequency, share = _dominant_frequency(xs[mask], ys[mask])
            count = int(mask.sum())
            span = float(np.ptp(xs[mask])) if count > 1 else 0.0
            facts["pieces"].append(
                {
                    "low": float(max(lo, xs[0])),
                    "high": float(min(hi, xs[-1])),
                    "n": count,
                    "cycles_per_unit": frequency,
                    "peak_share": share,
                    "samples_per_period": (count / (frequency * span)) if frequency * span > 0 else None,
                    "std": float(ys[mask].std()) if count else 0.0,
                }
            )
        lines += ["", "## Structure", ""]
        if jumps:
            for j in jumps:
                lines.append(
                    f"- a jump of {j['size']:+.3g} near x = {j['location']:.3g}, "
                    f"{j['relative_to_local']:.1f}x any neighbouring increment (samples {j['gap']:.2g} apart)."
                )
        else:
            lines.append("- no jump between sorted neighbours stands out from the local variation.")
        for piece in facts["pieces"]:
            text = f"- on [{piece['low']:.3g}, {piece['high']:.3g}] ({piece['n']} samples): "
            if piece["cycles_per_unit"] and piece["peak_share"] > 0.2:
                text += (
                    f"dominant oscillation {piece['cycles_per_unit']:.3g} cycles per unit "
                    f"({piece['samples_per_period']:.2g} samples per period)"
                )
            else:
                text += "no dominant oscillation"
            lines.append(text + ".")
        if facts["noise_std"] is not None:
            lines.append(
                f"- noise std estimated at {facts['noise_std']:.2g} "
                f"({facts['noise_to_signal']:.1%} of the output std) from neighbour deviations."
            )
    elif x.shape[1] >= 2 and y.shape[1] == 1:
        jumps = find_axis_jumps(x, y[:, 0])
        facts["jumps"] = jumps
        lines += ["", "## Structure", ""]
        for j in jumps:
            lines.append(
                f"- a jump of {j['size']:+.3g} across the plane x{j['axis']} = {j['location']:.3g}: neighbouring "
                f"samples on the two sides differ {j['relative_to_local']:.1f}x more than neighbours beside it."
            )
        if not jumps:
            lines.append(
                "- no axis-aligned plane separates neighbouring samples by a jump that stands out from the local "
                "variation."
            )
    facts["max_cycles_per_unit"] = max(
        (p["cycles_per_unit"] for p in facts["pieces"] if p["peak_share"] > 0.2), default=0.0
    )
    return facts, lines


# ------------------------------------------------------------------------------------------------------------
# Operator problems
# ------------------------------------------------------------------------------------------------------------
def tensor_grid(points: np.ndarray) -> tuple[list[np.ndarray], np.ndarray] | None:
    """If the rows of ``points`` (m, d) are the nodes of a tensor-product grid, each node once and in any order:
    the sorted coordinates along every axis and the permutation that puts the rows in C order of that grid."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or len(points) == 0 or not np.all(np.isfinite(points)):
        return None
    axes, index = [], []
    for column in points.T:
        span = float(np.max(column) - np.min(column))
        key = np.round((column - np.min(column)) / span, 9) if span > 0 else np.zeros(len(column))
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        axes.append(column[first])
        index.append(inverse.reshape(-1))
    shape = tuple(len(values) for values in axes)
    if math.prod(shape) != len(points):
        return None
    flat = np.ravel_multi_index(index, shape)
    if len(np.unique(flat)) != len(points):
        return None
    return axes, np.argsort(flat)


def _regular(values: np.ndarray) -> bool:
    steps = np.diff(values)
    return len(values) >= 2 and bool(np.allclose(steps, steps[0]))


def _grid_modes_99(u: np.ndarray, shape: tuple[int, ...], order: np.ndarray) -> int:
    """The smallest K such that the Fourier modes with |k_i| <= K on every axis hold 99% of the input energy."""
    fields = u[:, order].reshape(len(u), *shape)
    fields = fields - fields.mean(axis=tuple(range(1, fields.ndim)), keepdims=True)
    axes = tuple(range(1, fields.ndim))
    spectrum = (np.abs(np.fft.fftn(fields, axes=axes)) ** 2).mean(axis=0)
    total = max(float(spectrum.sum()), 1e-300)
    wavenumber = np.zeros(shape, dtype=np.int64)
    for axis, n in enumerate(shape):
        k = np.abs(np.fft.fftfreq(n) * n).astype(np.int64)
        wavenumber = np.maximum(wavenumber, k.reshape([-1 if a == axis else 1 for a in range(len(shape))]))
    for K in range(int(wavenumber.max()) + 1):
        if spectrum[wavenumber <= K].sum() >= 0.99 * total:
            return K + 1
    return int(wavenumber.max()) + 1


def _operator(train: dict[str, np.ndarray], query: dict[str, np.ndarray]) -> tuple[dict, list[str]]:
    u = np.asarray(train["u"], dtype=np.float64)
    s = np.asarray(train["s"], dtype=np.float64).reshape(len(u), -1)
    y = np.asarray(train["y"], dtype=np.float64).reshape(s.shape[1], -1)
    raw_sensors = np.asarray(train.get("sensors", np.linspace(0, 1, u.shape[1])), dtype=np.float64)
    sensors = raw_sensors.reshape(-1)
    # sensor coordinates as rows: (m,) or (m, 1) on a line, (m, d) in d dimensions
    points = raw_sensors if raw_sensors.ndim == 2 and len(raw_sensors) == u.shape[1] else sensors[:, None]
    uq = np.asarray(query["u"], dtype=np.float64).reshape(-1, u.shape[1])
    yq = np.asarray(query["y"], dtype=np.float64).reshape(-1, y.shape[1])
    spectrum = (np.abs(np.fft.rfft(u - u.mean(axis=1, keepdims=True), axis=1)) ** 2).mean(axis=0)
    cumulative = np.cumsum(spectrum) / max(spectrum.sum(), 1e-300)
    modes_99 = int(np.searchsorted(cumulative, 0.99) + 1)
    grid_shape: list[int] | None = None
    grid_sampled = bool(len(sensors) >= 2 and np.allclose(np.diff(sensors), np.diff(sensors)[0]))
    if points.shape[1] >= 2:  # sensors in several dimensions: a regular tensor grid, or scattered
        grid = tensor_grid(points)
        grid_sampled = bool(grid is not None and all(_regular(values) for values in grid[0]))
        if grid is not None and grid_sampled:
            grid_shape = [len(values) for values in grid[0]]
            modes_99 = _grid_modes_99(u, tuple(grid_shape), grid[1])
    elif grid_sampled:
        grid_shape = [len(sensors)]
    # Does a linear map explain the outputs? Least squares s ~ [u, 1] W on a random half, tested on the rest.
    rng = np.random.default_rng(0)
    order = rng.permutation(len(u))
    half = len(u) // 2
    design = np.hstack([u, np.ones((len(u), 1))])
    weights, *_ = np.linalg.lstsq(design[order[:half]], s[order[:half]], rcond=1e-10)
    residual = design[order[half:]] @ weights - s[order[half:]]
    linear_error = float(np.linalg.norm(residual) / max(np.linalg.norm(s[order[half:]]), 1e-300))
    shift = float(abs(uq.std() - u.std()) / max(u.std(), 1e-12))
    if y.shape[1] == 1:
        on_sensors = bool(len(y) == len(sensors) and np.allclose(y[:, 0], sensors))
    else:  # the same points as the sensors, in any order
        on_sensors = bool(
            y.shape == points.shape
            and np.allclose(y[np.lexsort(y.T[::-1])], points[np.lexsort(points.T[::-1])])
        )
    inside = bool(
        y.shape[1] == points.shape[1]
        and np.all(yq >= points.min(axis=0) - 1e-9 * np.ptp(points, axis=0))
        and np.all(yq <= points.max(axis=0) + 1e-9 * np.ptp(points, axis=0))
    )
    facts = {
        "n_functions": len(u),
        "n_sensors": int(u.shape[1]),
        "n_locations": int(s.shape[1]),
        "location_dim": int(y.shape[1]),
        "sensor_dim": int(points.shape[1]),
        "sensor_grid_shape": grid_shape,
        "n_query_functions": len(uq),
        "n_query_locations": len(yq),
        "u_mean": float(u.mean()),
        "u_std": float(u.std()),
        "s_std": float(s.std()),
        "per_sensor_std_spread": float(u.std(axis=0).max() / max(u.std(axis=0).min(), 1e-12)),
        "sensor_modes_99": modes_99,
        "linear_fit_rel_error": linear_error,
        "query_locations_match_train": bool(yq.shape == y.shape and np.allclose(yq, y)),
        "locations_on_sensor_grid": on_sensors,
        "query_locations_inside_sensors": inside,
        "input_distribution_shift": shift,
        "grid_sampled": grid_sampled,
    }
    lines = [
        "## Functions",
        "",
        (
            f"- {len(u)} training functions at {u.shape[1]} sensors, outputs at {s.shape[1]} locations; "
            f"{len(uq)} query functions."
        ),
        f"- inputs: mean {facts['u_mean']:.3g}, std {facts['u_std']:.3g}; outputs: std {facts['s_std']:.3g}.",
        (
            f"- 99% of the input energy lies in the first {modes_99} Fourier modes"
            + (" per axis" if grid_shape and len(grid_shape) > 1 else "")
            + ": the inputs are smooth."
        ),
        f"- a linear least-squares map from sensor values to outputs leaves a {linear_error:.2g} relative error "
        "on held-out training functions"
        + (" — the operator is (nearly) linear." if linear_error < 1e-2 else "."),
        (
            f"- query functions look {'like' if shift < 0.1 else 'unlike'} the training ones (std differs by "
            f"{shift:.1%}); query locations {'match' if facts['query_locations_match_train'] else 'differ from'} "
            "the training locations."
        ),
    ]
    if points.shape[1] > 1:
        where = (
            f"a regular {' x '.join(map(str, grid_shape))} grid" if grid_shape else
            "scattered points (no regular tensor grid)"
        )
        lines.append(
            f"- the sensors are {points.shape[1]}-d, on {where}; the outputs live at {y.shape[1]}-d locations"
            + (", the sensor points themselves." if on_sensors else ".")
        )
    return facts, lines


# ------------------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------------------
def _get(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value

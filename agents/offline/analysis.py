"""The data analyst: facts about a problem's inputs (never its targets) that guide the proposer.

``analyze_data`` looks at what a candidate would see (the public spec, the training arrays, the query
inputs) and returns numbers (``facts``) plus a short markdown report. For PINN problems it reads the PDE:
its parameters, the initial condition or source term (sampled through the PDE helpers), and what they imply
(transport frequency in time, interface or shock width, stiffness). For regression it looks for jumps,
noise and dominant frequencies; for operator learning at the input-function statistics and whether the map
from inputs to outputs is close to linear.
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
    if kind == "pinn":
        facts, lines = _pinn(spec, train, query_inputs)
    elif kind == "regression":
        facts, lines = _regression(train, query_inputs)
    elif kind == "operator":
        facts, lines = _operator(train, query_inputs)
    else:
        raise ValueError(f"unknown problem kind {kind!r}")
    facts = {**base, **facts}
    header = f"# Data analysis: {base['problem']} ({kind}, {wall:g} s budget on {base['cpu_threads']} CPU thread(s))"
    return DataAnalysis(facts=_jsonable(facts), report="\n".join([header, "", *lines]).strip() + "\n")


# ------------------------------------------------------------------------------------------------------------
# PINN problems
# ------------------------------------------------------------------------------------------------------------
def _pinn(spec: Any, train: dict[str, np.ndarray], query: dict[str, np.ndarray]) -> tuple[dict, list[str]]:
    from sandbox.runtime.pde import build_pde

    pde = build_pde(_get(spec, "pde"))
    bounds = np.asarray(pde.bounds, dtype=np.float64)
    time_dependent = pde.time_variable is not None
    spatial = list(pde.spatial_variables)
    facts: dict[str, Any] = {
        "pde": pde.name,
        "params": dict(pde.params),
        "variables": list(pde.variables),
        "bounds": bounds.tolist(),
        "periodic": list(pde.periodic),
        "exact_constraints": list(pde.exact_constraints),
        "time_dependent": time_dependent,
        "has_dirichlet": "dirichlet" in pde.exact_constraints,
        "n_interior": len(train.get("x_interior", [])),
        "n_initial": len(train.get("x_initial", [])),
        "n_boundary": len(train.get("x_boundary", [])),
        "n_query": len(query.get("x", [])),
        "derivative_order": 2 if pde.name in ("burgers", "helmholtz", "allen_cahn") else 1,
    }
    lines = ["## Equation", "", f"- {pde.describe()}"]

    # Profile of the initial condition (or of the source for steady problems) along the first space axis.
    if time_dependent and len(spatial) == 1:
        column = pde.index(spatial[0])
        low, high = bounds[column]
        periodic = spatial[0] in pde.periodic
        grid = np.linspace(low, high, 2048, endpoint=not periodic)
        points = np.zeros((len(grid), pde.dim))
        points[:, column] = grid
        points[:, pde.index(pde.time_variable)] = bounds[pde.index(pde.time_variable), 0]
        profile = pde.initial_values(points)[:, 0]
        ic = _profile_facts(grid, profile, periodic)
        facts["initial_condition"] = ic
        lines += [
            "",
            "## Initial condition",
            "",
            (
                f"- amplitude {ic['amplitude']:.3g} (range {ic['min']:.3g} .. {ic['max']:.3g}); dominant "
                f"wavenumber {ic['dominant_wavenumber']:.3g} rad per unit length "
                f"({ic['dominant_cycles']:.3g} cycle(s) across the domain)."
            ),
            (
                f"- sharpness (max slope x length / amplitude) {ic['sharpness']:.3g}; "
                f"{ic['high_frequency_energy']:.1%} of its energy above 8 cycles."
            ),
        ]
        if periodic and ic.get("boundary_kink", 0.0) > 0.05:
            lines.append(
                f"- its periodic extension has a kink at the ends (slope mismatch "
                f"{ic['boundary_kink']:.2g} relative), so u itself is smooth only inside the domain."
            )
    elif not time_dependent and hasattr(pde, "source"):
        facts["source"] = _source_facts(pde, bounds)
        src = facts["source"]
        lines += [
            "",
            "## Source term",
            "",
            "- dominant wavenumbers per axis (rad per unit length): "
            + ", ".join(f"{v} {k:.3g}" for v, k in zip(pde.variables, src["wavenumbers"])),
            (
                f"- amplitude {src['amplitude']:.3g}: the residual term is about {src['residual_to_solution']:.3g} "
                "times larger than the solution it implies (second derivatives of an oscillation)."
            ),
        ]

    facts.update(_physics_signals(pde, facts))
    lines += ["", "## What the parameters imply", ""]
    lines += [f"- {sentence}" for sentence in facts.pop("_sentences")]
    lines += [
        "",
        "## Points",
        "",
        (
            f"- {facts['n_interior']} collocation points given ({facts['n_initial']} initial, "
            f"{facts['n_boundary']} boundary); {facts['n_query']} query points."
        ),
    ]
    return facts, lines


def _profile_facts(grid: np.ndarray, values: np.ndarray, periodic: bool) -> dict[str, float]:
    length = float(grid[-1] - grid[0]) if not periodic else float((grid[1] - grid[0]) * len(grid))
    amplitude = float(np.max(np.abs(values))) or 1.0
    centred = values - values.mean()
    if not periodic:  # remove the linear trend so the ends do not masquerade as a jump in the FFT
        centred = centred - np.polyval(np.polyfit(grid, centred, 1), grid)
    spectrum = np.abs(np.fft.rfft(centred)) ** 2
    spectrum[0] = 0.0
    total = float(spectrum.sum()) or 1.0
    cycles = int(np.argmax(spectrum)) if spectrum.any() else 0
    slope = np.gradient(values, grid)
    facts = {
        "amplitude": amplitude,
        "min": float(values.min()),
        "max": float(values.max()),
        "dominant_cycles": float(cycles),
        "dominant_wavenumber": 2 * math.pi * cycles / length,
        "sharpness": float(np.max(np.abs(slope)) * length / amplitude),
        "high_frequency_energy": float(spectrum[9:].sum() / total),
    }
    if periodic:
        scale = float(np.max(np.abs(slope))) or 1.0
        facts["boundary_kink"] = float(abs(slope[-1] - slope[0]) / scale)
    return facts


def _source_facts(pde: Any, bounds: np.ndarray) -> dict[str, Any]:
    n = 256
    axes = [np.linspace(lo, hi, n) for lo, hi in bounds]
    mesh = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(axes))
    values = np.asarray(pde.source(mesh), dtype=np.float64).reshape([n] * len(axes))
    wavenumbers = []
    for axis in range(len(axes)):
        moved = np.moveaxis(values, axis, -1).reshape(-1, n)
        spectrum = (np.abs(np.fft.rfft(moved, axis=1)) ** 2).sum(axis=0)
        spectrum[0] = 0.0
        # a sine over [low, high] with a cycles has its peak at bin ~a (half-cycles count on a closed grid)
        cycles = int(np.argmax(spectrum))
        length = float(bounds[axis, 1] - bounds[axis, 0])
        wavenumbers.append(2 * math.pi * cycles / length)
    k2 = sum(k * k for k in wavenumbers)
    return {
        "wavenumbers": wavenumbers,
        "amplitude": float(np.max(np.abs(values))),
        "residual_to_solution": float(k2) if k2 else 1.0,
    }


def _physics_signals(pde: Any, facts: dict[str, Any]) -> dict[str, Any]:
    """Difficulty signals from the PDE parameters, with a sentence each for the report."""
    signals: dict[str, Any] = {
        "temporal_frequency": 0.0,
        "sharp_width": None,
        "stiff": False,
        "transport_dominated": False,
        "oscillatory_solution": False,
    }
    sentences: list[str] = []
    bounds = np.asarray(pde.bounds)
    params = pde.params
    ic = facts.get("initial_condition", {})
    k0 = ic.get("dominant_wavenumber", 0.0)
    if pde.time_variable is not None:
        duration = float(bounds[pde.index(pde.time_variable), 1] - bounds[pde.index(pde.time_variable), 0])
        signals["duration"] = duration
    if pde.name == "convection":
        beta = abs(params["beta"])
        length = float(bounds[0, 1] - bounds[0, 0])
        crossings = beta * signals["duration"] / length
        omega = beta * max(k0, 2 * math.pi / length)
        signals.update(
            transport_speed=beta,
            domain_crossings=crossings,
            temporal_frequency=omega,
            transport_dominated=crossings > 1,
            oscillatory_solution=omega * signals["duration"] > 4 * math.pi,
        )
        sentences.append(
            f"Transport at speed {beta:g}: the profile crosses the domain {crossings:.2g} times, so "
            f"the solution oscillates in time at about {omega:.3g} rad per unit time "
            f"({omega * signals['duration'] / (2 * math.pi):.2g} periods over the interval)."
        )
        if crossings > 1:
            sentences.append(
                "A network must resolve that many temporal periods; plain PINNs are known to stall "
                "on a near-constant solution in this regime (loss landscape ill-conditioned)."
            )
    elif pde.name == "burgers":
        nu = params["nu"]
        amplitude = ic.get("amplitude", 1.0)
        width = nu / max(amplitude, 1e-12)
        signals.update(viscosity=nu, sharp_width=width, transport_dominated=True)
        sentences.append(
            f"Viscosity {nu:.3g} against velocities of order {amplitude:.2g}: a shock-like layer of "
            f"width ~{width:.2g} forms, far below the typical collocation spacing."
        )
    elif pde.name == "allen_cahn":
        d, rho = params["diffusion"], params["reaction"]
        width = math.sqrt(d / rho)
        rate = rho * signals["duration"]
        signals.update(diffusion=d, reaction=rho, sharp_width=width, stiff=rate >= 3, reaction_rate=rate)
        sentences.append(
            f"Reaction {rho:g} over a time span of {signals['duration']:g} ({rate:.2g} e-folding "
            f"times): the dynamics are stiff and drive u to the phases +-1."
        )
        sentences.append(
            f"Diffusion {d:g} leaves interfaces of width ~sqrt(d/rho) = {width:.2g}; late times "
            "depend on getting the early evolution right (causality)."
        )
    elif pde.name == "helmholtz":
        source = facts.get("source", {})
        waves = source.get("wavenumbers", [])
        signals.update(
            oscillatory_solution=bool(waves) and max(waves) > 6,
            max_wavenumber=max(waves or [0.0]),
            residual_scale=source.get("residual_to_solution", 1.0),
        )
        if waves:
            sentences.append(
                f"The forcing oscillates with wavenumbers up to {max(waves):.3g} rad per unit length; "
                f"the residual is ~{signals['residual_scale']:.3g}x the solution, so the boundary "
                "penalty is drowned unless it is balanced or imposed exactly."
            )
    if facts.get("periodic"):
        sentences.append(
            f"Periodic in {', '.join(facts['periodic'])}: periodicity can be built into the "
            "network through a cos/sin embedding instead of being penalised."
        )
    if "initial" in facts.get("exact_constraints", []):
        sentences.append("The initial condition can be imposed exactly (u = u0 + (t - t0) N).")
    if "dirichlet" in facts.get("exact_constraints", []):
        sentences.append("The Dirichlet condition can be imposed exactly with the boundary distance factor.")
    if not sentences:
        sentences.append("No parameter stands out as a known source of difficulty.")
    signals["_sentences"] = sentences
    return signals


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
    values = values - np.polyval(np.polyfit(grid, values, 1), grid)
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
    facts["max_cycles_per_unit"] = max(
        (p["cycles_per_unit"] for p in facts["pieces"] if p["peak_share"] > 0.2), default=0.0
    )
    return facts, lines


# ------------------------------------------------------------------------------------------------------------
# Operator problems
# ------------------------------------------------------------------------------------------------------------
def _operator(train: dict[str, np.ndarray], query: dict[str, np.ndarray]) -> tuple[dict, list[str]]:
    u = np.asarray(train["u"], dtype=np.float64)
    s = np.asarray(train["s"], dtype=np.float64).reshape(len(u), -1)
    y = np.asarray(train["y"], dtype=np.float64).reshape(s.shape[1], -1)
    sensors = np.asarray(train.get("sensors", np.linspace(0, 1, u.shape[1])), dtype=np.float64).reshape(-1)
    uq = np.asarray(query["u"], dtype=np.float64).reshape(-1, u.shape[1])
    yq = np.asarray(query["y"], dtype=np.float64).reshape(-1, y.shape[1])
    spectrum = (np.abs(np.fft.rfft(u - u.mean(axis=1, keepdims=True), axis=1)) ** 2).mean(axis=0)
    cumulative = np.cumsum(spectrum) / max(spectrum.sum(), 1e-300)
    modes_99 = int(np.searchsorted(cumulative, 0.99) + 1)
    # Does a linear map explain the outputs? Least squares s ~ [u, 1] W on a random half, tested on the rest.
    rng = np.random.default_rng(0)
    order = rng.permutation(len(u))
    half = len(u) // 2
    design = np.hstack([u, np.ones((len(u), 1))])
    weights, *_ = np.linalg.lstsq(design[order[:half]], s[order[:half]], rcond=1e-10)
    residual = design[order[half:]] @ weights - s[order[half:]]
    linear_error = float(np.linalg.norm(residual) / max(np.linalg.norm(s[order[half:]]), 1e-300))
    shift = float(abs(uq.std() - u.std()) / max(u.std(), 1e-12))
    facts = {
        "n_functions": len(u),
        "n_sensors": int(u.shape[1]),
        "n_locations": int(s.shape[1]),
        "location_dim": int(y.shape[1]),
        "n_query_functions": len(uq),
        "n_query_locations": len(yq),
        "u_mean": float(u.mean()),
        "u_std": float(u.std()),
        "s_std": float(s.std()),
        "per_sensor_std_spread": float(u.std(axis=0).max() / max(u.std(axis=0).min(), 1e-12)),
        "sensor_modes_99": modes_99,
        "linear_fit_rel_error": linear_error,
        "query_locations_match_train": bool(yq.shape == y.shape and np.allclose(yq, y)),
        "locations_on_sensor_grid": bool(
            y.shape[1] == 1 and len(y) == len(sensors) and np.allclose(y[:, 0], sensors)
        ),
        "input_distribution_shift": shift,
        "grid_sampled": bool(np.allclose(np.diff(sensors), np.diff(sensors)[0])),
    }
    lines = [
        "## Functions",
        "",
        (
            f"- {len(u)} training functions at {u.shape[1]} sensors, outputs at {s.shape[1]} locations; "
            f"{len(uq)} query functions."
        ),
        f"- inputs: mean {facts['u_mean']:.3g}, std {facts['u_std']:.3g}; outputs: std {facts['s_std']:.3g}.",
        f"- 99% of the input energy lies in the first {modes_99} Fourier modes: the inputs are smooth.",
        f"- a linear least-squares map from sensor values to outputs leaves a {linear_error:.2g} relative error "
        "on held-out training functions"
        + (" — the operator is (nearly) linear." if linear_error < 1e-2 else "."),
        (
            f"- query functions look {'like' if shift < 0.1 else 'unlike'} the training ones (std differs by "
            f"{shift:.1%}); query locations {'match' if facts['query_locations_match_train'] else 'differ from'} "
            "the training locations."
        ),
    ]
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

"""What an equation implies for a PINN, derived from its symbolic form alone.

The data analyst used to know four equations by name. This module instead reads any spec-defined PDE the
way a numerical analyst would: it writes the equation as ``c * d^m u / dt^m = (everything else)``, sorts the
remaining terms into transport (first spatial derivatives), diffusion (second), dispersion (third),
hyper-diffusion (fourth), reaction (the unknown without derivatives), sources (no unknown) and anything
else, sizes each coefficient over the domain and the data's range, and turns those sizes into the
dimensionless numbers that predict PINN trouble: domain crossings and the temporal frequency of transport
or waves, Peclet numbers, layer widths, reaction stiffness, the wavenumbers of the data and the forcing,
and how large the residual is against the solution it describes.

Because nothing here branches on a problem or equation name, a user's equation gets the same reasoning as a
built-in one. The analysis never raises: an equation it cannot take apart yields fewer facts, and a
sentence saying so, rather than a failed campaign.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy

#: a layer thinner than this share of the domain counts as sharp for the moves (see ``moves.Evidence``)
_SAMPLES = 96
# A mode counts as carried by the data when it holds at least this share of the (non-constant) energy: 4%,
# i.e. an amplitude about a fifth of a lone dominant mode.
SIGNIFICANT_ENERGY = 0.04
OSCILLATORY_CYCLES = 2.0


@dataclass
class _Term:
    """One additive term of ``rhs`` in ``c d^m u/dt^m = rhs``."""

    kind: str  # transport | diffusion | dispersion | hyperdiffusion | cross | damping | reaction | source | other
    expr: sympy.Expr  # the term of the right-hand side, fields as placeholders
    axis: str | None = None  # the variable of a one-variable derivative
    order: int = 0
    coefficient: sympy.Expr | None = None  # rhs term / derivative (for derivative terms)
    magnitude: float = 0.0  # max |coefficient| over the domain and the data range
    nonlinear: bool = False


@dataclass
class _Context:
    sym: Any
    variables: list[str]
    spatial: list[str]
    time: str | None
    bounds: dict[str, tuple[float, float]]
    U: sympy.Symbol = field(default_factory=lambda: sympy.Symbol("_U", real=True))
    placeholders: dict[sympy.Symbol, dict[str, int]] = field(default_factory=dict)


def pde_facts(sym: Any) -> tuple[dict[str, Any], list[str]]:
    """Facts (JSON-safe) and report sentences for a :class:`~problems.pde_symbolic.SymbolicPDE`."""
    try:
        facts, sentences = _derive(sym)
    except Exception as exc:  # the analysis informs the proposer; it must never sink a campaign
        return (
            {"analysis_error": f"{type(exc).__name__}: {exc}"[:300]},
            [f"The equation could not be taken apart symbolically ({type(exc).__name__}); no physics facts."],
        )
    return _jsonable(facts), sentences


# ------------------------------------------------------------------------------------------------------------
# Taking the equation apart
# ------------------------------------------------------------------------------------------------------------
def _derive(sym: Any) -> tuple[dict[str, Any], list[str]]:
    ctx = _Context(
        sym=sym,
        variables=list(sym.variables),
        spatial=[v for v in sym.variables if v != sym.time_variable],
        time=sym.time_variable,
        bounds={k: (float(lo), float(hi)) for k, (lo, hi) in sym.bounds.items()},
    )
    expr = _with_placeholders(ctx, sympy.expand(sym.residual))
    terms = list(sympy.Add.make_args(sympy.expand(expr)))

    # The leading term: the highest pure time derivative (evolution problems) or, for steady problems, the
    # first highest-order spatial derivative, so that diffusion coefficients come out positive.
    time_order, lead_symbol, lead = 0, None, sympy.Integer(-1)
    for placeholder, counts in ctx.placeholders.items():
        if ctx.time and counts.get(ctx.time, 0) and sum(counts.values()) == counts[ctx.time]:
            if counts[ctx.time] > time_order:
                time_order, lead_symbol = counts[ctx.time], placeholder
    if lead_symbol is not None:
        coefficient = _linear_coefficient(sum(t for t in terms if lead_symbol in t.free_symbols), lead_symbol)
        if coefficient is None or coefficient.free_symbols & _fields(ctx):
            raise ValueError("the highest time derivative does not enter linearly")
        lead = coefficient
    else:
        spatial_orders = [(sum(c.values()), p) for p, c in ctx.placeholders.items()]
        if spatial_orders:
            top = max(order for order, _ in spatial_orders)
            for order, placeholder in sorted(spatial_orders, key=lambda item: (-item[0], str(item[1]))):
                if order == top:
                    coefficient = _linear_coefficient(
                        sum(t for t in terms if placeholder in t.free_symbols), placeholder
                    )
                    if coefficient is not None and not coefficient.free_symbols & _fields(ctx):
                        lead = -coefficient
                        lead_symbol = placeholder
                        break
    lead_value = _typical(ctx, lead) or 1.0
    amplitude, initial = _initial_profile(ctx)
    ctx_amplitude = amplitude if amplitude > 0 else 1.0

    classified: list[_Term] = []
    for term in terms:
        if lead_symbol is not None and ctx.time and lead_symbol in term.free_symbols and time_order:
            continue  # the leading time derivative itself
        classified.append(_classify(ctx, -term / lead_value, time_order))
    for term in classified:
        term.magnitude = _magnitude(ctx, term.coefficient if term.coefficient is not None else term.expr,
                                    ctx_amplitude)

    return _summarise(ctx, classified, time_order, lead_value, amplitude, initial)


def _with_placeholders(ctx: _Context, expr: sympy.Expr) -> sympy.Expr:
    """Replace u and its derivatives by plain symbols, remembering each derivative's counts."""
    unknown = ctx.sym.unknown
    replacements: dict[Any, sympy.Symbol] = {}
    for derivative in sorted(expr.atoms(sympy.Derivative), key=str):
        counts: dict[str, int] = {}
        for variable, count in derivative.variable_count:
            counts[str(variable)] = counts.get(str(variable), 0) + int(count)
        name = "_D_" + "_".join(f"{k}{v}" for k, v in sorted(counts.items()))
        placeholder = sympy.Symbol(name, real=True)
        ctx.placeholders[placeholder] = counts
        replacements[derivative] = placeholder
    expr = expr.xreplace(replacements)
    return expr.xreplace({unknown: ctx.U})


def _fields(ctx: _Context) -> set[sympy.Symbol]:
    return {ctx.U, *ctx.placeholders}


def _linear_coefficient(expr: sympy.Expr, symbol: sympy.Symbol) -> sympy.Expr | None:
    """``a`` when ``expr == a * symbol`` with ``a`` free of ``symbol``, else ``None``."""
    expr = sympy.expand(expr)
    coefficient = sympy.simplify(expr / symbol) if expr != 0 else None
    if coefficient is None or symbol in coefficient.free_symbols:
        return None
    return coefficient


def _classify(ctx: _Context, term: sympy.Expr, time_order: int) -> _Term:
    fields = term.free_symbols & _fields(ctx)
    if not fields:
        return _Term("source", term)
    derivatives = fields - {ctx.U}
    if not derivatives:
        nonlinear = sympy.degree(term, ctx.U) != 1 if term.is_polynomial(ctx.U) else True
        return _Term("reaction", term, nonlinear=nonlinear)
    if len(derivatives) == 1:
        (placeholder,) = derivatives
        coefficient = _linear_coefficient(term, placeholder)
        if coefficient is not None:
            counts = ctx.placeholders[placeholder]
            order = sum(counts.values())
            nonlinear = bool(coefficient.free_symbols & _fields(ctx))
            nonzero = [k for k, v in counts.items() if v]
            if ctx.time in counts:
                if len(nonzero) == 1 and order < time_order:
                    return _Term("damping", term, ctx.time, order, coefficient, nonlinear=nonlinear)
                return _Term("other", term, None, order, coefficient, nonlinear=nonlinear)
            if len(nonzero) > 1:
                return _Term("cross", term, None, order, coefficient, nonlinear=nonlinear)
            kind = {1: "transport", 2: "diffusion", 3: "dispersion", 4: "hyperdiffusion"}.get(order, "other")
            if kind == "transport":
                coefficient = -coefficient  # u_t = -v u_x: the velocity is minus the rhs coefficient
            return _Term(kind, term, nonzero[0], order, coefficient, nonlinear=nonlinear)
    return _Term("other", term, nonlinear=True)


# ------------------------------------------------------------------------------------------------------------
# Numbers over the domain
# ------------------------------------------------------------------------------------------------------------
def _sample_points(ctx: _Context, n: int = _SAMPLES, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    points = {}
    for name in ctx.variables:
        lo, hi = ctx.bounds[name]
        values = rng.uniform(lo, hi, n)
        values[:2] = lo, hi
        points[name] = values
    return points


def _evaluate(ctx: _Context, expr: sympy.Expr, points: dict[str, np.ndarray], u: np.ndarray | float) -> np.ndarray:
    names = [ctx.sym.symbols[v] for v in ctx.variables]
    function = sympy.lambdify([*names, ctx.U], expr, modules="numpy")
    size = len(next(iter(points.values())))
    with np.errstate(all="ignore"):
        values = function(*[points[v] for v in ctx.variables], u)
    values = np.asarray(values, dtype=np.float64)
    return np.broadcast_to(values, (size,)).copy() if values.ndim == 0 else values.reshape(-1)[:size]


def _magnitude(ctx: _Context, expr: sympy.Expr, amplitude: float) -> float:
    """max |expr| over domain samples with u in [-amplitude, amplitude]."""
    try:
        points = _sample_points(ctx)
        n = len(points[ctx.variables[0]])
        u = np.linspace(-amplitude, amplitude, n)
        values = np.abs(_evaluate(ctx, expr, points, u))
        values = values[np.isfinite(values)]
        return float(values.max()) if values.size else 0.0
    except Exception:
        return 0.0


def _typical(ctx: _Context, expr: sympy.Expr) -> float:
    """A signed representative value (median over the domain) of a field-free coefficient."""
    try:
        values = _evaluate(ctx, expr, _sample_points(ctx), 0.0)
        values = values[np.isfinite(values)]
        if not values.size:
            return 0.0
        value = float(np.median(values))
        return value if abs(value) > 1e-300 else 0.0
    except Exception:
        return 0.0


def _peak(signal: np.ndarray) -> tuple[int, float, np.ndarray]:
    """The dominant FFT bin of ``signal``, its share of the (non-constant) energy, and the spectrum."""
    spectrum = np.abs(np.fft.rfft(signal - signal.mean())) ** 2
    spectrum[0] = 0.0
    total = float(spectrum.sum())
    if total <= 1e-24 * max(1.0, float(np.sum(signal**2))) or total == 0:
        return 0, 0.0, spectrum
    peak = int(np.argmax(spectrum))
    return peak, float(spectrum[peak] / total), spectrum


def _spectrum_facts(values: np.ndarray, grid: np.ndarray, periodic: bool) -> dict[str, float]:
    """Amplitude, dominant wavenumber and sharpness of a 1D profile.

    A periodic profile is transformed as it is. A profile on an interval is extended to twice its length,
    evenly (cosine-like data, zero slope at the ends) and oddly after removing the chord between its end
    values (sine-like data); the extension whose spectrum is the more concentrated is the one that matches
    the data, and its peak counts half-cycles, so cos(pi x) on [0, 1] reads as wavenumber pi, not 2 pi.
    """
    amplitude = float(np.max(np.abs(values))) if values.size else 0.0
    if periodic:
        length = float((grid[1] - grid[0]) * len(grid))
        peak, _, spectrum = _peak(values)
        wavenumber = 2 * math.pi * peak / length
        cycles = float(peak)
        high = spectrum[9:]
    else:
        length = float(grid[-1] - grid[0])
        chord = values[0] + (values[-1] - values[0]) * (grid - grid[0]) / max(length, 1e-300)
        odd = values - chord
        even_peak, even_share, even_spectrum = _peak(np.concatenate([values, values[::-1]]))
        odd_peak, odd_share, odd_spectrum = _peak(np.concatenate([odd, -odd[::-1]]))
        peak, spectrum = (odd_peak, odd_spectrum) if odd_share > even_share else (even_peak, even_spectrum)
        wavenumber = math.pi * peak / length
        cycles = peak / 2
        high = spectrum[17:]
    total = float(spectrum.sum())
    # The highest mode that still carries a real share of the energy: a network must resolve it, and spectral
    # bias makes it the last one learnt, even when a lower mode dominates (sin(pi x) + 0.5 sin(4 pi x)).
    carrying = np.nonzero(spectrum >= SIGNIFICANT_ENERGY * total)[0] if total > 0 else np.array([], dtype=int)
    top = int(carrying.max()) if carrying.size else peak
    significant = (2 * math.pi * top / length) if periodic else (math.pi * top / length)
    slope = np.gradient(values, grid)
    facts = {
        "amplitude": amplitude,
        "min": float(values.min()),
        "max": float(values.max()),
        "dominant_cycles": float(cycles),
        "dominant_wavenumber": float(wavenumber),
        "significant_wavenumber": float(max(significant, wavenumber)),
        "sharpness": float(np.max(np.abs(slope)) * length / amplitude) if amplitude > 0 else 0.0,
        "high_frequency_energy": float(high.sum() / total) if total > 0 else 0.0,
    }
    if periodic:  # a slope mismatch across the period: u is smooth inside the domain only
        steepest = float(np.max(np.abs(slope))) or 1.0
        facts["boundary_kink"] = float(abs(slope[-1] - slope[0]) / steepest)
    return facts


def _axis_profiles(ctx: _Context, expr: sympy.Expr, axes: list[str], fixed: dict[str, float],
                   n: int = 1024) -> dict[str, dict[str, float]]:
    """Spectral facts of ``expr`` along each axis, the other variables held at the domain's middle."""
    profiles: dict[str, dict[str, float]] = {}
    for axis in axes:
        lo, hi = ctx.bounds[axis]
        periodic = axis in ctx.sym.periodic
        grid = np.linspace(lo, hi, n, endpoint=not periodic)
        # several cuts at irrational fractions, since a cut through a nodal line (sin(k y) at y = 0) is blank
        for fraction in (0.5, 0.3183, 0.7236):
            at = {v: lo_ + fraction * (hi_ - lo_) for v, (lo_, hi_) in ctx.bounds.items()}
            points = {v: np.full(n, fixed.get(v, at[v])) for v in ctx.variables}
            points[axis] = grid
            values = _evaluate(ctx, expr, points, 0.0)
            if not np.all(np.isfinite(values)):
                continue
            profile = _spectrum_facts(values, grid, periodic)
            if axis not in profiles or profile["amplitude"] > profiles[axis]["amplitude"] * 1.01:
                profiles[axis] = profile
    return profiles


def _initial_profile(ctx: _Context) -> tuple[float, dict[str, Any]]:
    """The initial value's amplitude and spectrum (evolution problems) or the boundary data's (steady)."""
    values = []
    for condition in ctx.sym.conditions:
        if condition.kind == "initial" and condition.derivative is None and condition.value is not None:
            values.append(condition.value)
    fixed = {}
    if ctx.time:
        fixed[ctx.time] = ctx.bounds[ctx.time][0]
    if not values:
        for condition in ctx.sym.conditions:
            if condition.kind == "boundary" and condition.derivative is None and condition.value is not None:
                values.append(condition.value)
    if not values:
        return 0.0, {}
    profiles: dict[str, dict[str, float]] = {}
    for value in values:
        try:
            for axis, profile in _axis_profiles(ctx, value, ctx.spatial, fixed).items():
                if axis not in profiles or profile["amplitude"] > profiles[axis]["amplitude"]:
                    profiles[axis] = profile
        except Exception:
            continue
    if not profiles:
        return 0.0, {}
    best = max(profiles.values(), key=lambda p: (p["significant_wavenumber"], p["amplitude"]))
    amplitude = max(p["amplitude"] for p in profiles.values())
    summary = dict(best)
    summary["amplitude"] = amplitude
    summary["wavenumbers"] = {axis: p["significant_wavenumber"] for axis, p in profiles.items()}
    summary["from"] = "initial" if any(c.kind == "initial" for c in ctx.sym.conditions) else "boundary"
    return amplitude, summary


# ------------------------------------------------------------------------------------------------------------
# From terms to implications
# ------------------------------------------------------------------------------------------------------------
def _summarise(ctx: _Context, terms: list[_Term], time_order: int, lead: float, amplitude: float,
               initial: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    sentences: list[str] = []
    lengths = {v: ctx.bounds[v][1] - ctx.bounds[v][0] for v in ctx.variables}
    length = max((lengths[v] for v in ctx.spatial), default=1.0)
    duration = lengths[ctx.time] if ctx.time else None
    scale = amplitude if amplitude > 0 else 1.0

    def by_kind(kind: str) -> list[_Term]:
        return [t for t in terms if t.kind == kind]

    derivative_orders = {v: 0 for v in ctx.variables}
    for counts in ctx.placeholders.values():
        for v, c in counts.items():
            derivative_orders[v] = max(derivative_orders.get(v, 0), c)
    spatial_order = max((sum(c for v, c in counts.items() if v != ctx.time)
                         for counts in ctx.placeholders.values()), default=0)

    # Forcing: the spectrum of the source along each axis.
    source_expr = sum((t.expr for t in by_kind("source")), sympy.Integer(0))
    source: dict[str, Any] = {}
    if source_expr != 0:
        try:
            profiles = _axis_profiles(ctx, source_expr, ctx.variables, {}, n=512)
            source = {
                "amplitude": _magnitude(ctx, source_expr, scale),
                "wavenumbers": {a: p["significant_wavenumber"] for a, p in profiles.items() if a != ctx.time},
            }
            if ctx.time in profiles:
                source["temporal_frequency"] = profiles[ctx.time]["significant_wavenumber"]
        except Exception:
            source = {}

    # Sizes of the operators.
    diffusion = {t.axis: t for t in by_kind("diffusion")}
    diffusivity = max((t.magnitude for t in diffusion.values()), default=0.0)
    min_diffusivity = min((t.magnitude for t in diffusion.values()), default=0.0)
    transport = by_kind("transport")
    speed = max((t.magnitude for t in transport), default=0.0)
    nonlinear_transport = any(t.nonlinear for t in transport)
    reaction_expr = sum((t.expr for t in by_kind("reaction")), sympy.Integer(0))
    reaction_rate_max, reaction_rate_zero = _reaction_rates(ctx, reaction_expr, scale)
    nonlinear_reaction = any(t.nonlinear for t in by_kind("reaction"))
    dispersion = max((t.magnitude for t in by_kind("dispersion")), default=0.0)
    hyper = max((t.magnitude for t in by_kind("hyperdiffusion")), default=0.0)
    nonlinear = any(t.nonlinear for t in terms)
    anti_diffusive = any(_typical(ctx, t.coefficient) < 0 for t in diffusion.values() if t.coefficient is not None
                         and not t.nonlinear) and time_order == 1

    # Wavenumbers the solution must carry: data, forcing, and an oscillatory (Helmholtz-type) balance.
    wavenumbers: dict[str, float] = {v: 0.0 for v in ctx.spatial}
    for axis, k in (initial.get("wavenumbers") or {}).items():
        wavenumbers[axis] = max(wavenumbers.get(axis, 0.0), float(k))
    for axis, k in (source.get("wavenumbers") or {}).items():
        wavenumbers[axis] = max(wavenumbers.get(axis, 0.0), float(k))
    helmholtz_k = 0.0
    if time_order == 0 and diffusivity > 0 and reaction_expr != 0 and not nonlinear_reaction:
        rate = _typical(ctx, sympy.diff(reaction_expr, ctx.U))
        if rate > 0:
            helmholtz_k = math.sqrt(rate / diffusivity)
    max_wavenumber = max([helmholtz_k, *wavenumbers.values()], default=0.0)
    k_initial = float(initial.get("significant_wavenumber") or initial.get("dominant_wavenumber") or 0.0)

    facts: dict[str, Any] = {
        "terms": [_term_fact(t) for t in terms],
        "time_order": time_order,
        "derivative_order": spatial_order,
        "derivative_orders": derivative_orders,
        "nonlinear": nonlinear,
        "duration": duration,
        "lengths": lengths,
        "diffusivity": diffusivity,
        "transport_speed": speed,
        "dispersion": dispersion,
        "hyperdiffusion": hyper,
        "reaction_rate_max": reaction_rate_max,
        "max_wavenumber": max_wavenumber,
        "wavenumbers": wavenumbers,
        "temporal_frequency": 0.0,
        "sharp_width": None,
        "stiff": False,
        "transport_dominated": False,
        "oscillatory_solution": False,
        "conditions_summary": _conditions_summary(ctx),
        "reentrant_corners": _reentrant_corners(ctx),
    }
    if initial:
        facts["initial_condition"] = initial
    if source:
        facts["source"] = source
    if helmholtz_k:
        facts["helmholtz_wavenumber"] = helmholtz_k

    term_words = sorted({t.kind for t in terms})
    sentences.append(
        "Terms of the equation: "
        + ", ".join(f"{kind} ({', '.join(_short(t) for t in terms if t.kind == kind)})" for kind in term_words)
        + f"; {'evolution of order ' + str(time_order) + ' in ' + str(ctx.time) if time_order else 'steady'}, "
        + f"spatial derivatives up to order {spatial_order}{', nonlinear' if nonlinear else ', linear'}."
    )
    if anti_diffusive:
        sentences.append("A diffusion coefficient is negative (backward diffusion): the problem is ill-posed "
                         "forward in time and small errors grow.")

    # Transport and waves: how often the data crosses the domain, and the frequency seen at a fixed point.
    wave_speed = math.sqrt(diffusivity) if time_order == 2 and diffusivity > 0 else 0.0
    carrier = max(speed, wave_speed)
    if carrier > 0 and duration:
        lowest = (2 if any(v in ctx.sym.periodic for v in ctx.spatial) else 1) * math.pi / length
        k_carried = max(k_initial, lowest)  # the fundamental mode when the data has no clear wavenumber
        omega = carrier * k_carried
        crossings = carrier * duration / length
        facts["domain_crossings"] = crossings
        if wave_speed:
            facts["wave_speed"] = wave_speed
        what = "Waves travel" if wave_speed >= speed else "Transport runs"
        if crossings >= 1:  # under one crossing a fixed point sees less than a period pass: nothing to resolve
            facts["temporal_frequency"] = omega
            sentences.append(
                f"{what} at speed up to {carrier:.3g}: the data crosses the domain {crossings:.2g} times, so at a "
                f"fixed point u oscillates at about {omega:.3g} rad per unit time "
                f"({omega * duration / (2 * math.pi):.2g} periods over the interval)."
            )
        else:
            sentences.append(
                f"{what} at speed up to {carrier:.3g}: the data moves {crossings:.2g} of a domain length over the "
                "interval, so the solution deforms rather than oscillates in time."
            )
    peclet = None
    if speed > 0:
        peclet = speed * length / min_diffusivity if min_diffusivity > 0 else None
        facts["peclet"] = peclet
        crossings = float(facts.get("domain_crossings") or 0.0)
        # the profile must travel at least one domain length for transport to be what limits a PINN
        dominated = (peclet is None or peclet > 10) and (crossings >= 1 or not duration)
        facts["transport_dominated"] = dominated
        if dominated:
            sentences.append(
                f"Transport dominates (Peclet {'infinite' if peclet is None else f'{peclet:.3g}'}): errors are carried "
                "downstream rather than damped, and plain PINNs are known to stall on a near-constant solution "
                "when the profile must travel far."
            )
    elif wave_speed and float(facts.get("domain_crossings") or 0) > 1:
        facts["transport_dominated"] = True
    if duration and float(facts["temporal_frequency"]) * duration > 4 * math.pi:
        facts["oscillatory_solution"] = True
    # Oscillation is counted in periods across the domain, not in rad per unit length, so that rescaling the
    # coordinates does not change the verdict; more than two periods along some axis is oscillatory.
    cycles = max([helmholtz_k * length / (2 * math.pi),
                  *(k * lengths[a] / (2 * math.pi) for a, k in wavenumbers.items())], default=0.0)
    facts["max_cycles"] = cycles
    if cycles > OSCILLATORY_CYCLES:
        facts["oscillatory_solution"] = True
        sentences.append(
            f"The solution must carry wavenumbers up to {max_wavenumber:.3g} rad per unit length "
            f"({cycles:.2g} periods across the domain): spectral bias makes such "
            "modes the last a network learns."
        )
    if source.get("temporal_frequency"):
        facts["temporal_frequency"] = max(float(facts["temporal_frequency"]), float(source["temporal_frequency"]))

    # Reaction: stiffness over the interval.
    if reaction_rate_max > 0 and duration:
        rate = reaction_rate_max * duration
        facts["reaction_rate"] = rate
        facts["stiff"] = rate >= 3
        if rate >= 3:
            sentences.append(
                f"The reaction term changes u at a rate up to {reaction_rate_max:.3g} per unit time ({rate:.2g} "
                "e-folding times over the interval): the dynamics are stiff, and late times depend on getting the "
                "early evolution right (causality)."
            )

    # Layers: the thinnest length scale the equation can create.
    widths: list[tuple[float, str]] = []
    if nonlinear_transport and diffusivity > 0:
        widths.append((min_diffusivity / max(speed, 1e-12), "a shock-like layer from nonlinear steepening (nu / |u|)"))
    if reaction_expr != 0 and diffusivity > 0:
        rate = reaction_rate_zero or reaction_rate_max
        if rate > 0 and (nonlinear_reaction or time_order == 0):
            if nonlinear_reaction or _typical(ctx, sympy.diff(reaction_expr, ctx.U)) < 0:
                widths.append((math.sqrt(min_diffusivity / rate), "interfaces of width sqrt(D / reaction rate)"))
    if time_order == 0 and speed > 0 and min_diffusivity > 0 and peclet and peclet > 10:
        widths.append((min_diffusivity / speed, "a boundary layer of width D / |v| at the outflow"))
    if dispersion > 0:
        widths.append((math.sqrt(dispersion / scale), "dispersive wave trains of width sqrt(|dispersion| / |u|)"))
    sharpness = float(initial.get("sharpness") or 0.0)
    if sharpness > 50:
        widths.append((length / sharpness, "a steep front already present in the data"))
    if widths:
        width, reason = min(widths)
        facts["sharp_width"] = width
        facts["sharp_reason"] = reason
        if width < 0.05 * length:
            sentences.append(
                f"Expect {reason}: width ~{width:.2g}, {width / length:.2g} of the domain, far below the typical "
                "collocation spacing."
            )

    # How much larger the residual is than the solution it describes.
    residual_scale = 0.0
    for term in terms:
        if term.kind in ("transport", "diffusion", "dispersion", "hyperdiffusion") and term.axis:
            k = wavenumbers.get(term.axis) or math.pi / max(lengths.get(term.axis, 1.0), 1e-12)
            residual_scale += term.magnitude * k**term.order
    if time_order == 0 and helmholtz_k:
        residual_scale = max(residual_scale, helmholtz_k**2)
    facts["residual_scale"] = residual_scale
    if residual_scale > 50:
        sentences.append(
            f"The differential operator amplifies the solution's scales by ~{residual_scale:.3g}: the residual term "
            "outweighs the condition penalties unless they are balanced or imposed exactly."
        )

    if facts["reentrant_corners"]:
        sentences.append(
            f"The domain has {facts['reentrant_corners']} re-entrant corner(s): u has singular gradients there, so "
            "uniform collocation under-samples them and exact boundary factors need a smoothed distance."
        )
    if float(initial.get("boundary_kink") or 0) > 0.05:
        sentences.append(
            f"The initial data's periodic extension has a kink at the ends (slope mismatch "
            f"{initial['boundary_kink']:.2g} relative): u is smooth only inside the domain."
        )
    if ctx.sym.periodic:
        sentences.append(
            f"Periodic in {', '.join(ctx.sym.periodic)}: periodicity can be built into the network with a cos/sin "
            "embedding instead of being penalised."
        )
    kinds = {c["type"] for c in facts["conditions_summary"]}
    if kinds & {"neumann", "robin", "general"}:
        sentences.append(
            "Some conditions involve derivatives (Neumann/Robin): they cannot be imposed by a distance factor, "
            "so they stay as penalties whose weight matters."
        )
    return facts, sentences


def _reaction_rates(ctx: _Context, reaction: sympy.Expr, amplitude: float) -> tuple[float, float]:
    """max |df/du| over the data range, and |df/du| at u = 0 (the linearised rate)."""
    if reaction == 0:
        return 0.0, 0.0
    try:
        derivative = sympy.diff(reaction, ctx.U)
        return _magnitude(ctx, derivative, amplitude), abs(_typical(ctx, derivative))
    except Exception:
        return 0.0, 0.0


def _term_fact(term: _Term) -> dict[str, Any]:
    fact: dict[str, Any] = {"kind": term.kind, "term": _short(term), "magnitude": term.magnitude}
    if term.axis:
        fact["axis"] = term.axis
    if term.order:
        fact["order"] = term.order
    if term.nonlinear:
        fact["nonlinear"] = True
    return fact


def _short(term: _Term) -> str:
    text = str(term.expr).replace("_U", "u")
    for prefix in ("_D_",):
        while prefix in text:
            start = text.index(prefix)
            end = start + len(prefix)
            while end < len(text) and (text[end].isalnum() or text[end] == "_"):
                end += 1
            counts = text[start + len(prefix) : end].split("_")
            suffix = "".join(c[:-1] * int(c[-1]) if c[-1].isdigit() else c for c in counts)
            text = text[:start] + "u_" + suffix + text[end:]
    return text if len(text) <= 80 else text[:77] + "..."


def _conditions_summary(ctx: _Context) -> list[dict[str, str]]:
    summary = []
    for condition in ctx.sym.conditions:
        if condition.kind == "periodic":
            kind = "periodic"
        elif condition.equation is not None:
            kind = "general"
        elif condition.derivative is None:
            kind = "initial_value" if condition.kind == "initial" else "dirichlet"
        elif condition.kind == "initial":
            kind = "initial_velocity"
        else:
            kind = "neumann"
        summary.append({"where": str(condition.where), "kind": condition.kind, "type": kind})
    return summary


def _reentrant_corners(ctx: _Context) -> int:
    """Corners of excluded boxes that lie strictly inside the bounding box (2D and up)."""
    if len(ctx.spatial) < 2:
        return 0
    count = 0
    for box in ctx.sym.exclude:
        corners = 1
        for name, (lo, hi) in box.items():
            blo, bhi = ctx.bounds[name]
            inside = int(blo < lo < bhi) + int(blo < hi < bhi)
            corners *= inside
        count += corners
    return count


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    return value

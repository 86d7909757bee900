"""Property tests: the offline team's roles never raise on odd-but-valid problems and tree states.

Hypothesis generates problems of every kind (regression with 1-6 inputs, 1 to 2000 samples and constant,
noisy, discontinuous or huge targets; operators on 1-D and 2-D output grids, down to one function or one
sensor; PINNs from symbolic PDE specs composed of transport, diffusion, reaction, dispersion, source and
nonlinear terms with tiny to huge coefficients, initial/Dirichlet/Neumann/Robin/periodic conditions and
excluded boxes) and tree states around them (parents reached by random move sequences and odd knob
settings, any score, relatives with any status, training curves with gaps and NaNs, failures with random
tracebacks). The data analyst, the root writer, the catalogue, the debate, the engineer, the debugger, the
result analyst and the selectors run on them through :class:`~agents.offline_team.OfflineTeam`, the way the
campaign engine calls them, and through the role functions; every rendered candidate must compile. Nothing
is trained and nothing runs in the sandbox.

Examples per test are small and derandomised by default (CI). To hunt::

    OFFLINE_PROPERTY_EXAMPLES=500 OFFLINE_PROPERTY_RANDOM=1 OFFLINE_PROPERTY_NO_SHRINK=1 \
        pytest --timeout=0 tests/offline/test_offline_properties.py
"""

from __future__ import annotations

import ast
import asyncio
import json
import math
import os
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from agents.offline.analysis import DataAnalysis, analyze_data
from agents.offline.catalogue import RECIPES, build, catalogue
from agents.offline.debate import debate as offline_debate
from agents.offline.design import Design
from agents.offline.models import ProposalContext as OfflineContext
from agents.offline.models import SiblingSummary
from agents.offline.moves import MOVES, MOVES_BY_ID, Evidence, moves_for
from agents.offline.render import render_candidate
from agents.offline.roles import analyze_result, debug, root_design
from agents.offline.signals import CurveSummary, describe_curve, estimated_steps, summarise_curve
from agents.offline_team import OfflineTeam
from agents.team import CandidateCode, DataReport, Failure, NodeView, ProposalContext
from problems.base import ProblemSpec
from sandbox.runtime.pde import build_pde
from sandbox.runtime.pde_expr import SpecError

_HUNT = int(os.environ.get("OFFLINE_PROPERTY_EXAMPLES", "0") or 0)


def _settings(default: int) -> settings:
    return settings(
        max_examples=_HUNT or default,
        deadline=None,
        derandomize=not os.environ.get("OFFLINE_PROPERTY_RANDOM"),  # a hunt may explore beyond the fixed seed
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        # shrinking a failure of this pipeline takes minutes; a hunt reports the raw example instead
        phases=[Phase.explicit, Phase.generate] if os.environ.get("OFFLINE_PROPERTY_NO_SHRINK") else list(Phase),
    )


def _compiles(code: str) -> None:
    ast.parse(code)
    compile(code, "<candidate>", "exec")


def _run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


# ------------------------------------------------------------------------------------------------------------
# Numbers
# ------------------------------------------------------------------------------------------------------------
COEFFICIENTS = st.one_of(
    st.sampled_from([1.0, -1.0, 0.5, 2.0, 1e-8, 1e-4, 1e3, 1e6, -1e-6, 3.0, 0.01]),
    st.floats(-50, 50, allow_nan=False).filter(lambda v: abs(v) > 1e-12),
)
SCORES = st.one_of(
    st.none(),
    st.sampled_from([0.0, 1e-300, 1e-12, 1e-6, 0.5, 1.0, 3.0, 1e12, 1e300]),
    st.floats(0, 10, allow_nan=False),
)
TEXT = st.one_of(
    st.just(""),
    st.text(max_size=60),
    st.sampled_from([
        "RuntimeError: CUDA out of memory", "MemoryError", "loss is nan at step 12", "FloatingPointError: overflow",
        "non-finite loss", "inf", "L-BFGS line search failed: lbfgs", "fourier frequencies have wrong shape",
        "expert gate collapsed", "shape mismatch (10,) vs (11,)", "killed by SIGKILL", "Traceback (most recent "
        "call last):\n  File \"candidate.py\", line 3\nValueError: x", "The loss plateaued; error grows with time, "
        "high-frequency, at the boundary, noise, jump, still falling, diverged with a spike",
        "Relative L2 error 0.3. The loss went from 1 to 0.1 (best 0.1, 1.0 decades) over 1,200 steps in 30 s. "
        "It had plateaued. An L-BFGS phase ran.",
        "Training ran over 10 steps in ... s, then over 5 steps in 1.2.3 s.",  # prose, not our format
    ]),
)


def _seeded(draw: Any) -> np.random.Generator:
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


def _rows(draw: Any, large: int = 2000) -> int:
    return draw(st.one_of(st.integers(1, 3), st.integers(4, 40), st.integers(41, large)))


# ------------------------------------------------------------------------------------------------------------
# Regression problems
# ------------------------------------------------------------------------------------------------------------
@st.composite
def regression_problems(draw: Any) -> tuple[dict, dict, dict]:
    rng = _seeded(draw)
    dim = draw(st.integers(1, 6))
    n = _rows(draw)
    layout = draw(st.sampled_from(
        ["uniform", "grid", "duplicates", "constant_column", "tiny_range", "huge_range", "denormal", "enormous"]))
    if layout == "grid":
        x = np.tile(np.linspace(-1, 1, n)[:, None], (1, dim))
    elif layout == "duplicates":
        x = rng.choice(np.linspace(0, 1, 3), size=(n, dim))
    elif layout == "constant_column":
        x = rng.uniform(0, 1, (n, dim))
        x[:, 0] = 0.25
    elif layout == "tiny_range":
        x = 1.0 + 1e-9 * rng.uniform(0, 1, (n, dim))
    elif layout == "huge_range":
        x = rng.uniform(-1e6, 1e6, (n, dim))
    elif layout == "denormal":
        x = 1e-300 * rng.uniform(0, 1, (n, dim))
    elif layout == "enormous":
        x = rng.uniform(-1e300, 1e300, (n, dim))
    else:
        x = rng.uniform(-3, 3, (n, dim))
    first = x[:, 0]
    target = draw(st.sampled_from(
        ["constant", "zero", "smooth", "noisy", "step", "oscillatory", "huge", "enormous", "tiny"]))
    y = {
        "constant": np.full(n, 2.5),
        "zero": np.zeros(n),
        "smooth": np.sin(first) + 0.1 * x.sum(axis=1),
        "noisy": np.sin(3 * first) + 0.3 * rng.normal(size=n),
        "step": np.where(first > np.median(first), 1.0, -1.0) + 0.01 * first,
        "oscillatory": np.sin(40 * first),
        "huge": 1e12 * np.cos(first),
        "enormous": 1e300 * np.cos(first),
        "tiny": 1e-12 * np.cos(first),
    }[target]
    if draw(st.booleans()):
        y = y[:, None]
    nq = _rows(draw, 300)
    xq = x[rng.integers(0, n, nq)] + draw(st.sampled_from([0.0, 1e-3, 10.0])) * rng.normal(size=(nq, dim))
    spec = _problem_spec("regression", None, draw)
    return spec, {"x": x, "y": y}, {"x": xq}


# ------------------------------------------------------------------------------------------------------------
# Operator problems
# ------------------------------------------------------------------------------------------------------------
@st.composite
def operator_problems(draw: Any) -> tuple[dict, dict, dict]:
    rng = _seeded(draw)
    n = draw(st.one_of(st.integers(1, 3), st.integers(4, 200)))
    m = draw(st.one_of(st.integers(1, 3), st.integers(4, 128)))
    grid = np.linspace(0, 1, m)
    functions = draw(st.sampled_from(["smooth", "constant", "zero", "identical", "rough", "huge", "denormal"]))
    if functions == "smooth":
        u = sum(rng.normal(size=(n, 1)) * np.sin((k + 1) * np.pi * grid)[None] / (k + 1) for k in range(4))
    elif functions == "constant":
        u = np.repeat(rng.normal(size=(n, 1)), m, axis=1)
    elif functions == "zero":
        u = np.zeros((n, m))
    elif functions == "identical":
        u = np.tile(np.cos(np.pi * grid), (n, 1))
    elif functions == "rough":
        u = rng.normal(size=(n, m))
    elif functions == "denormal":
        u = 1e-300 * rng.normal(size=(n, m))
    else:
        u = 1e9 * rng.normal(size=(n, m))
    u = np.asarray(u, dtype=np.float64).reshape(n, m)
    if draw(st.booleans()):  # 1-D output grid
        L = draw(st.integers(1, 128))
        where = draw(st.sampled_from(["linspace", "random", "sensors"]))
        if where == "sensors":
            y = grid[:, None]
        elif where == "random":
            y = np.sort(rng.uniform(0, 1, L))[:, None]
        else:
            y = np.linspace(0, 1, L)[:, None]
    else:  # 2-D output grid
        nx, ny = draw(st.integers(1, 16)), draw(st.integers(1, 16))
        gx, gy = np.meshgrid(np.linspace(0, 1, nx), np.linspace(-1, 1, ny), indexing="ij")
        y = np.stack([gx.ravel(), gy.ravel()], axis=1)
    L = len(y)
    target = draw(st.sampled_from(["antiderivative", "linear", "square", "constant", "noisy", "jump"]))
    mean = u.mean(axis=1, keepdims=True)
    profile = np.cos(np.pi * y[:, :1].T)  # (1, L)
    s = {
        "antiderivative": np.interp(y[:, 0], grid, np.arange(m) / max(m - 1, 1))[None] * mean,
        "linear": mean * profile,
        "square": (mean**2) * profile,
        "constant": np.ones((n, L)),
        "noisy": mean * profile + rng.normal(size=(n, L)),
        "jump": np.sign(mean) * (y[:, :1].T > 0.5),
    }[target]
    s = np.asarray(s, dtype=np.float64).reshape(n, L)
    train: dict[str, np.ndarray] = {"u": u, "y": y, "s": s}
    sensors = draw(st.sampled_from(["grid", "uneven", "none"]))
    if sensors == "grid":
        train["sensors"] = grid
    elif sensors == "uneven":
        train["sensors"] = np.sort(rng.uniform(0, 1, m))
    nq = draw(st.integers(1, 40))
    uq = u[rng.integers(0, n, nq)] * draw(st.sampled_from([1.0, 3.0]))
    yq = y if draw(st.booleans()) else y[: max(1, L // 2)]
    spec = _problem_spec("operator", None, draw)
    return spec, train, {"u": uq, "y": yq}


# ------------------------------------------------------------------------------------------------------------
# PINN problems: symbolic specs
# ------------------------------------------------------------------------------------------------------------
def _d(long: bool, *axes: str) -> str:
    """The derivative field name, e.g. u_xx or (long names) u_x1_x1."""
    return "u_" + ("_".join(axes) if long else "".join(axes))


@st.composite
def pde_specs(draw: Any) -> dict[str, Any]:
    long = draw(st.booleans()) and draw(st.booleans())
    n_spatial = draw(st.integers(1, 5))
    names = [f"x{i + 1}" for i in range(n_spatial)] if long else ["x", "y", "z", "w", "r"][:n_spatial]
    time_name = draw(st.sampled_from([None, "t", "t", "s"]))
    if time_name == "s" and "s" in names:
        time_name = "t"
    bounds: dict[str, list[Any]] = {}
    for name in names:
        low = draw(st.sampled_from([0, -1, 0.5, "-pi", -1e3]))
        width = draw(st.sampled_from([1, 2, "2*pi", 1e-3, 1e2, 0.37]))
        bounds[name] = [low, width if low == 0 else f"({low}) + ({width})"]
    variables = dict(bounds)
    if time_name is not None:
        variables[time_name] = [0, draw(st.sampled_from([1, 0.01, 5, 100]))]
        if draw(st.booleans()):  # time first, as some users write it
            variables = {time_name: variables.pop(time_name), **variables}
    parameters: dict[str, float] = {}

    def coefficient() -> str:
        value = draw(COEFFICIENTS)
        if draw(st.booleans()):
            name = f"c{len(parameters)}"
            parameters[name] = value
            return name
        return f"({value!r})"

    spatial = list(names)
    terms: list[str] = []
    for _ in range(draw(st.integers(1, 5))):
        a = draw(st.sampled_from(spatial))
        b = draw(st.sampled_from(spatial))
        kind = draw(st.sampled_from([
            "transport", "diffusion", "reaction", "dispersion", "hyper", "source", "burgers", "cubic", "fisher",
            "sine", "cross", "gradient_square", "exp", "abs",
        ]))
        c = coefficient()
        term = {
            "transport": f"{c}*{_d(long, a)}",
            "diffusion": f"{c}*{_d(long, a, a)}",
            "reaction": f"{c}*u",
            "dispersion": f"{c}*{_d(long, a, a, a)}",
            "hyper": f"{c}*{_d(long, a, a, a, a)}",
            "source": f"{c}*sin({draw(st.sampled_from([1, 3, 40]))}*pi*{a})*exp(-{b}**2)",
            "burgers": f"{c}*u*{_d(long, a)}",
            "cubic": f"{c}*(u**3 - u)",
            "fisher": f"{c}*u*(1 - u)",
            "sine": f"{c}*sin(u)",
            "cross": f"{c}*{_d(long, a, b)}",
            "gradient_square": f"{c}*{_d(long, a)}**2",
            "exp": f"{c}*exp(-u**2)",
            "abs": f"{c}*abs({_d(long, a)})",
        }[kind]
        terms.append(term)
    lead = None
    if time_name is not None:
        lead = draw(st.sampled_from(["first", "second", "none"]))
    t = time_name
    rest = " + ".join(terms)
    if lead == "first":
        equation = draw(st.sampled_from([f"u_{t} = {rest}", f"u_{t} - ({rest})", f"{coefficient()}*u_{t} + {rest}"]))
    elif lead == "second":
        damping = f" + {coefficient()}*u_{t}" if draw(st.booleans()) else ""
        equation = f"u_{t}{t} - ({rest}){damping}"
    else:
        if not any(f"u_{x}" in rest for x in spatial):
            rest += f" + {_d(long, spatial[0], spatial[0])}"
        equation = draw(st.sampled_from([rest, f"-({rest}) = 1", f"{rest} = sin(pi*{spatial[0]})"]))

    conditions: list[dict[str, Any]] = []
    if lead in ("first", "second"):
        profile = draw(st.sampled_from([
            "sin(pi*{a})", "0", "1", "cos({k}*pi*{a}) + 0.5*cos(3*pi*{a})", "tanh(({a} - 0.5)/0.001)",
            "sign({a} - 0.5)", "exp(-100*{a}**2)", "{a}", "1e6*sin({a})",
        ]))
        conditions.append({"where": f"{t} == 0", "value": profile.format(a=spatial[0], k=draw(st.integers(1, 60)))})
        if lead == "second" and draw(st.booleans()):
            conditions.append({"where": f"{t} == 0", "derivative": f"u_{t}", "value": f"sin(pi*{spatial[-1]})"})
    periodic: set[str] = set()
    use_boundary = draw(st.booleans())
    if use_boundary and draw(st.booleans()):
        conditions.append({"where": "boundary", "value": draw(st.sampled_from(["0", "1", f"{spatial[0]}**2"]))})
    else:
        for x in spatial:
            choice = draw(st.sampled_from(["dirichlet", "neumann", "normal", "robin", "periodic", "mixed", "none"]))
            low, high = (f"{x} == {bound}" for bound in ("LOW", "HIGH"))
            if choice == "periodic":
                periodic.add(x)
                conditions.append({"periodic": x})
            elif choice == "dirichlet":
                conditions += [{"where": low, "value": "0"}, {"where": high, "value": "1"}]
            elif choice == "neumann":
                conditions += [{"where": low, "derivative": _d(long, x), "value": "0"}]
            elif choice == "normal":
                conditions += [{"where": high, "derivative": "u_n", "value": "0"}]
            elif choice == "robin":
                conditions += [{"where": low, "equation": f"{_d(long, x)} + 2*u - 1"}]
            elif choice == "mixed":
                conditions += [{"where": low, "value": "0"}, {"where": high, "derivative": "u_n", "value": "1"}]
    non_periodic = [x for x in spatial if x not in periodic]
    geometry = None
    if len(non_periodic) >= 2 and draw(st.booleans()):
        a, b = non_periodic[:2]
        geometry = {"exclude": [{a: ["LOW_FRAC_" + a, "HIGH_" + a], b: ["LOW_" + b, "MID_" + b]}]}
    spec: dict[str, Any] = {"variables": variables, "equation": equation, "conditions": conditions}
    if parameters:
        spec["parameters"] = parameters
    if time_name == "s":
        spec["time"] = "s"
    if geometry:
        spec["geometry"] = geometry
    return _resolve_bounds(spec)


def _resolve_bounds(spec: dict[str, Any]) -> dict[str, Any]:
    """Replace the LOW/HIGH/MID placeholders of faces and boxes by the (numeric) bounds of each variable."""
    from sandbox.runtime.pde_expr import parse_constant

    numeric = {
        name: [parse_constant(v, name) if isinstance(v, str) else float(v) for v in bounds]
        for name, bounds in spec["variables"].items()
    }
    for condition in spec["conditions"]:
        where = condition.get("where")
        if isinstance(where, str) and "==" in where:
            name, bound = (part.strip() for part in where.split("=="))
            if bound in ("LOW", "HIGH"):
                condition["where"] = f"{name} == {numeric[name][0 if bound == 'LOW' else 1]!r}"
    if "geometry" in spec:
        box = {}
        for name, (lo, hi) in spec["geometry"]["exclude"][0].items():
            low, high = numeric[name]

            def at(tag: str) -> float:
                fraction = {"LOW_FRAC": 0.5, "HIGH": 1.0, "LOW": 0.0, "MID": 0.5}[tag.rsplit("_", 1)[0]]
                return low + fraction * (high - low)

            box[name] = [at(lo), at(hi)]
        spec["geometry"] = {"exclude": [box]}
    return spec


@st.composite
def pinn_problems(draw: Any) -> tuple[dict, dict, dict]:
    raw = draw(pde_specs())
    try:
        pde = build_pde(raw)
        spec = _problem_spec("pinn", raw, draw)
    except (SpecError, ValueError):
        assume(False)
        raise  # unreachable
    rng = _seeded(draw)
    train: dict[str, np.ndarray] = {}
    if draw(st.booleans()):
        train["x_interior"] = pde.sample_interior(_rows(draw), rng)
    if pde.time_variable is not None and draw(st.booleans()):
        points = pde.sample_initial(_rows(draw, 300), rng)
        train["x_initial"], train["u_initial"] = points, rng.normal(size=(len(points), 1))
    if pde.domain.faces and draw(st.booleans()):
        points = pde.sample_boundary(_rows(draw, 300), rng)
        if len(points):
            train["x_boundary"], train["u_boundary"] = points, np.zeros((len(points), 1))
    if draw(st.booleans()):
        points = pde.sample_interior(_rows(draw, 100), rng)
        train["x_observed"], train["u_observed"] = points, rng.normal(size=(len(points), 1))
    query = {"x": pde.sample_interior(_rows(draw, 500), rng)}
    return spec, train, query


def _problem_spec(kind: str, pde: dict[str, Any] | None, draw: Any) -> dict[str, Any]:
    """The problem view the engine hands the team: a validated ``ProblemSpec`` dumped to JSON."""
    budget = {
        "wall_seconds": draw(st.sampled_from([60.0, 0.5, 5.0, 600.0, 86_400.0])),
        "cpu_threads": draw(st.sampled_from([1, 1, 4, 256])),
    }
    spec = ProblemSpec(
        name=f"generated_{kind}", kind=kind, description="A generated problem.", budget=budget, pde=pde
    )
    return spec.model_dump(mode="json")


PROBLEMS = st.one_of(regression_problems(), operator_problems(), pinn_problems())


# ------------------------------------------------------------------------------------------------------------
# Tree states
# ------------------------------------------------------------------------------------------------------------
KNOBS: dict[str, dict[str, list[Any]]] = {
    "network": {
        "architecture": ["mlp", "resnet", "modified_mlp", "moe"],
        "width": [4, 5, 17, 512],
        "depth": [1, 2, 12],
        "activation": ["tanh", "sin", "gelu", "relu", "adaptive_tanh"],
        "n_experts": [2, 16],
        "fourier_features": [0, 1, 512],
        "fourier_sigma": [1e-6, 1000.0],
        "fourier_on": ["inputs", "time"],
        "fourier_axis_sigma": [None, [0.5], [1.0, 2.0, 3.0]],
        "periodic_harmonics": [0, 1, 8],
        "output_scale": [1e-6, 1000.0],
    },
    "optim": {
        "lr": [1e-8, 1.0, 2e-5],
        "schedule": ["none", "exponential", "cosine"],
        "lr_final_ratio": [1e-9, 1.0],
        "batch_size": [1, 100_000],
        "weight_decay": [0.0, 1.0],
        "grad_clip": [0.0, 1e6],
        "lbfgs_fraction": [0.0, 0.95],
        "lbfgs_resample": [True, False],
        "float64_finish": [True, False],
        "max_steps": [1, 10_000_000],
    },
    "pinn": {
        "exact_periodic": [True, False],
        "exact_initial": [True, False],
        "exact_dirichlet": [True, False],
        "weighting": ["fixed", "self_adaptive", "lr_annealing"],
        "w_residual": [1e-9, 1e6],
        "causal_eps": [0.0, 1e4],
        "time_windows": [1, 20],
        "n_collocation": [16, 200_000],
        "resample_every": [0, 1, 100_000],
        "sampling": ["uniform", "rad"],
        "n_constraint": [8, 20_000],
    },
    "operator": {
        "model": ["deeponet", "fno", "random_features"],
        "branch_width": [4, 1024],
        "branch_depth": [1, 8],
        "latent": [4, 512],
        "linear_branch": [True, False],
        "trunk_features": [0, 64],
        "input_norm": ["none", "global", "per_sensor"],
        "fno_modes": [2, 128],
        "fno_width": [4, 256],
        "rf_features": [0, 20_000],
        "ridge": [0.0, 1e3],
    },
    "regression": {
        "standardise_inputs": [True, False],
        "standardise_outputs": [True, False],
        "split_at_jumps": [True, False],
        "split_points": [[], [0.0], [-1e6, 0.5, 1e6]],
        "ensemble": [1, 16],
    },
}


@st.composite
def designs(draw: Any, kind: str, facts: dict[str, Any]) -> Design:
    """A design reached from the root by a random sequence of moves, then a few odd (valid) knob settings."""
    design = root_design(kind, DataAnalysis(facts=facts))
    evidence = Evidence(kind=kind, facts=facts, budget_seconds=float(facts.get("budget_seconds") or 60.0),
                        parent=design, parent_score=None, curve=CurveSummary())
    for move_id in draw(st.lists(st.sampled_from([m.id for m in moves_for(kind)]), max_size=6)):
        move = MOVES_BY_ID[move_id]
        if move.applies(design, evidence):
            design = move.apply(design, evidence)
    sections = ["network", "optim", kind]
    for _ in range(draw(st.integers(0, 4))):
        section = draw(st.sampled_from(sections))
        name = draw(st.sampled_from(sorted(KNOBS[section])))
        value = draw(st.sampled_from(KNOBS[section][name]))
        try:
            design = design.evolve(**{section: {name: value}})
        except ValueError:
            pass  # an invalid combination: keep the design as it was
    return design


@st.composite
def curves(draw: Any) -> list[dict[str, Any]]:
    shape = draw(st.sampled_from(["empty", "one", "many", "gappy"]))
    if shape == "empty":
        return []
    count = 1 if shape == "one" else draw(st.integers(2, 60))
    loss = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([0.0, -1.0, 1e-300, 1e300, math.nan]),
        st.floats(1e-8, 10),
    )
    records = []
    step = 0
    for k in range(count):
        step += draw(st.integers(-5, 2000))
        record: dict[str, Any] = {"step": step, "t": 0.1 * k}
        record["loss" if draw(st.integers(0, 4)) else "residual"] = draw(loss)
        if draw(st.integers(0, 3)) == 0:
            record["phase"] = draw(st.sampled_from([0, 1, 2, 1.0, 7]))
        if draw(st.integers(0, 5)) == 0:
            record["horizon"] = draw(st.sampled_from([0.2, 1.0, math.nan]))
        if draw(st.integers(0, 5)) == 0:
            record["causal_min_weight"] = draw(st.sampled_from([0.0, 0.9, math.inf]))
        if draw(st.integers(0, 5)) == 0:
            record["lr"] = 1e-3
        if shape == "gappy":  # columns of different lengths come back as records without some keys
            for key in draw(st.lists(st.sampled_from(list(record)), max_size=3)):
                record.pop(key, None)
        records.append(record)
    return records


def _stored(design: Design | None, draw: Any) -> dict[str, Any] | None:
    """A design as the engine stores it: the JSON dump, maybe with bookkeeping keys, sometimes missing or bad."""
    which = draw(st.integers(0, 9))
    if design is None or which == 0:
        return None
    if which == 1:
        return {"kind": design.kind, "network": "not a section"}  # an unreadable (e.g. older) design
    data = design.model_dump(mode="json")
    if which == 2:
        data["_changes"] = ["lbfgs", "unknown_move"]
    return json.loads(json.dumps(data))


def _reports(report: DataReport, draw: Any) -> DataReport:
    """What the engine passes on: the analysis, its failure stand-in, or facts reloaded partially."""
    which = draw(st.integers(0, 5))
    if which == 0:
        return DataReport(facts={"analysis_error": "ValueError: generated"}, report="# Data analysis failed\n")
    if which == 1:
        return DataReport()
    facts = json.loads(json.dumps(report.facts))
    if which == 2:
        keys = draw(st.lists(st.sampled_from(sorted(facts) or ["kind"]), max_size=8, unique=True))
        facts = {k: v for k, v in facts.items() if k not in keys}
    return DataReport(facts=facts, report=report.report)


STATUSES = st.sampled_from(["succeeded", "failed", "skipped_duplicate", "running", "pending", "ok", "timeout"])
CARD_WORDS = ["causal", "time marching", "L-BFGS", "Fourier feature", "adaptive sampling", "hard constraint",
              "modified MLP", "annealing", "self-adaptive", "float64", "Fourier neural operator", "ensemble",
              "mixture of experts", "discontinuity", "domain decomposition", "exact"]


def cards(kind: str) -> st.SearchStrategy[dict[str, Any] | None]:
    """A retrieved method card: none, one of the cards the kind's moves know, one known by title words only."""
    ids = sorted({c for m in moves_for(kind) for c in m.cards})
    return st.one_of(
        st.none(),
        st.builds(lambda i, t: {"id": i, "title": t}, st.sampled_from(ids), TEXT),
        st.builds(lambda i, t: {"id": i, "title": t}, st.sampled_from(sorted({c for m in MOVES for c in m.cards})),
                  TEXT),
        st.builds(lambda w, t: {"id": "unknown-card", "title": f"{t} {w}", "family": "generated"},
                  st.sampled_from(CARD_WORDS), TEXT),
        st.just({}),
    )


# ------------------------------------------------------------------------------------------------------------
# The properties
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # statistics of 1e300-sized data
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@_settings(40)
@given(problem=PROBLEMS, data=st.data())
def test_offline_team_never_raises_on_generated_problems_and_trees(problem, data) -> None:
    spec, train, query = problem
    kind = spec["kind"]
    draw = data.draw
    team = OfflineTeam()

    # Data analyst: facts must be strict JSON (they are stored as a message payload).
    report = _run(team.analyze_data(spec, train, query))
    json.dumps(report.facts, allow_nan=False)
    assert report.report.strip()
    analysis = DataAnalysis(facts=report.facts, report=report.report)

    # Root and the catalogue of reference designs.
    root = _run(team.write_root(spec, report))
    _compiles(root.code)
    for moves in RECIPES[kind].values():
        _compiles(render_candidate(build(kind, analysis, moves)))
    catalogue(kind, analysis)

    # A tree state around a parent.
    reported = _reports(report, draw)
    facts = dict(reported.facts)
    parent_design = draw(designs(kind, facts))
    parent_id = draw(st.integers(1, 50))
    grand_id = draw(st.one_of(st.none(), st.integers(51, 60)))
    parent = NodeView(
        node_id=parent_id, parent_id=grand_id, iteration=draw(st.integers(0, 20)), depth=draw(st.integers(0, 9)),
        status=draw(STATUSES), score=draw(SCORES), parent_score=draw(SCORES), summary=draw(st.one_of(st.none(), TEXT)),
        design=_stored(parent_design, draw), analysis=draw(st.one_of(st.none(), TEXT)),
        failure=draw(st.one_of(st.none(), TEXT)), children=draw(st.integers(0, 5)),
    )
    relatives = []
    for node_id in range(100, 100 + draw(st.integers(0, 6))):
        relation = draw(st.sampled_from(["sibling", "sibling", "uncle", "other"]))
        owner = {"sibling": parent_id, "uncle": grand_id, "other": 999}[relation]
        design = parent_design if draw(st.integers(0, 4)) == 0 else draw(designs(kind, facts))
        relatives.append(NodeView(
            node_id=node_id, parent_id=owner, status=draw(STATUSES), score=draw(SCORES),
            parent_score=draw(SCORES), summary=draw(st.one_of(st.none(), TEXT)), design=_stored(design, draw),
            analysis=draw(st.one_of(st.none(), TEXT)), failure=draw(st.one_of(st.none(), TEXT)),
        ))
    logs = draw(curves())
    ctx = ProposalContext(
        problem=spec, data=reported, parent=parent, parent_code=root.code, parent_logs=logs, relatives=relatives,
        card=draw(cards(kind)), iteration=draw(st.integers(0, 200)), seed=draw(st.integers(0, 2**31)),
    )

    # Debate and engineer.
    rounds = draw(st.integers(1, 6))
    outcome = _run(team.debate(ctx, rounds))
    assert outcome.messages and outcome.proposal.title
    code = _run(team.engineer(ctx, outcome.proposal))
    _compiles(code.code)
    child = Design.model_validate(code.design)
    assert child.kind == kind

    # Debugger on the child, with a random failure.
    failure = Failure(
        kind=draw(st.sampled_from([None, "timeout", "memory", "crash", "invalid_output", "violation", "contract",
                                   "sandbox_error", "cpu_time", "killed", "no_output", "weird", "CRASH"])),
        reason=draw(st.one_of(st.none(), TEXT)), traceback=draw(st.one_of(st.none(), TEXT)),
        stage=draw(st.sampled_from(["smoke", "full"])),
    )
    broken = code if draw(st.integers(0, 5)) else CandidateCode(code=code.code, design=_stored(child, draw))
    fixed = _run(team.debug(ctx, broken, failure, draw(st.integers(1, 5))))
    if fixed is not None:
        _compiles(fixed.code)
        Design.model_validate(fixed.design)

    # Result analyst.
    node = NodeView(node_id=200, parent_id=parent_id, status=draw(STATUSES), score=draw(SCORES),
                    parent_score=parent.score, design=_stored(child, draw), failure=draw(st.one_of(st.none(), TEXT)))
    message = _run(team.analyze_result(spec, node, draw(curves()), draw(st.one_of(st.none(), st.just(parent)))))
    assert message.text

    # Selectors: candidates are scored nodes (the engine's eligible pool).
    pool = [NodeView(node_id=300 + i, status="succeeded", score=draw(SCORES.filter(lambda s: s is not None)),
                     parent_score=draw(SCORES), depth=draw(st.integers(0, 9)), children=draw(st.integers(0, 5)))
            for i in range(draw(st.integers(1, 8)))]
    vote = _run(team.vote(pool, draw(st.integers(0, 9)), draw(st.integers(0, 7)), draw(st.integers(0, 10**6))))
    assert set(vote.payload["votes"]) <= {v.node_id for v in pool}


def _analysis_for(kind: str) -> DataAnalysis:
    """A cheap analysis per kind (regression and operator data; a PINN from a small heat equation)."""
    if kind not in _ANALYSES:
        rng = np.random.default_rng(0)
        if kind == "regression":
            x = np.linspace(0, 1, 64)[:, None]
            train, query = {"x": x, "y": np.where(x[:, 0] > 0.5, 1.0, 0.0)}, {"x": x}
        elif kind == "operator":
            u = rng.normal(size=(16, 8))
            train, query = {"u": u, "y": np.linspace(0, 1, 5)[:, None], "s": u[:, :5]}, {"u": u, "y": np.ones((5, 1))}
        else:
            pde = {"variables": {"x": [0, 1], "t": [0, 1]}, "equation": "u_t - 0.1*u_xx",
                   "conditions": [{"where": "t == 0", "value": "sin(pi*x)"}, {"where": "boundary", "value": "0"}]}
            train, query = {}, {"x": np.random.default_rng(0).uniform(0, 1, (10, 2))}
        spec = {"name": f"fixed_{kind}", "kind": kind, "pde": pde if kind == "pinn" else None}
        _ANALYSES[kind] = analyze_data(spec, train, query)
    return _ANALYSES[kind]


_ANALYSES: dict[str, DataAnalysis] = {}


@_settings(150)
@given(kind=st.sampled_from(["pinn", "regression", "operator"]), data=st.data())
def test_roles_never_raise_on_any_design_curve_or_failure(kind, data) -> None:
    """The role functions directly: debate over generated siblings/uncles, debugger, result analyst, curves."""
    draw = data.draw
    analysis = _analysis_for(kind)
    facts = dict(analysis.facts)
    parent = draw(designs(kind, facts))
    _compiles(render_candidate(parent, draw(st.one_of(st.none(), TEXT)), draw(st.one_of(st.none(), TEXT))))

    def summaries() -> list[SiblingSummary]:
        out = []
        for _ in range(draw(st.integers(0, 4))):
            design = draw(st.one_of(st.none(), designs(kind, facts)))
            out.append(SiblingSummary(
                summary=draw(TEXT) or (design.describe() if design else "unknown"), score=draw(SCORES),
                status=draw(STATUSES), key=design.key() if design and draw(st.booleans()) else None,
                changes=draw(st.lists(st.sampled_from([*MOVES_BY_ID, "distinct", "bogus"]), max_size=3)),
                design=design,
            ))
        return out

    logs = draw(curves())
    context = OfflineContext(
        problem_name="generated", kind=kind, pde=None, budget_seconds=draw(st.sampled_from([0.5, 5.0, 60.0, 86400.0])),
        data_analysis=analysis if draw(st.booleans()) else DataAnalysis(), parent_design=parent,
        parent_score=draw(SCORES), parent_analysis=draw(TEXT), parent_failure=draw(st.one_of(st.none(), TEXT)),
        parent_logs=logs, siblings=summaries(), uncles=summaries(), card=draw(cards(kind)),
        iteration=draw(st.integers(0, 100)), seed=draw(st.integers(0, 2**31)),
    )
    result = offline_debate(context, rounds=draw(st.integers(1, 6)), rng=draw(st.one_of(st.none(), st.integers(0, 99))))
    _compiles(render_candidate(result.final.design, result.final.title, result.final.rationale))

    repaired = debug(parent, draw(st.one_of(st.none(), st.text(max_size=12), st.sampled_from(
        ["timeout", "memory", "crash", "invalid_output", "no_output", "killed"]))), draw(TEXT), draw(TEXT))
    if repaired is not None:
        _compiles(render_candidate(repaired[0], "debugged", repaired[1]))

    text = analyze_result(result.final.design, draw(SCORES), draw(SCORES), logs, draw(st.one_of(st.none(), TEXT)),
                          draw(st.one_of(st.none(), st.just(parent))))
    assert text
    assert describe_curve(summarise_curve(logs))
    assert estimated_steps(parent, facts, context.budget_seconds) >= 0


def test_generated_pde_specs_are_mostly_buildable() -> None:
    """Guard against a generator that only produces rejected specs (which would test nothing)."""
    outcomes: list[bool] = []

    @settings(max_examples=40, deadline=None, derandomize=True, database=None)
    @given(pde_specs())
    def check(spec) -> None:
        try:
            build_pde(spec)
            outcomes.append(True)
        except SpecError:
            outcomes.append(False)

    check()
    assert sum(outcomes) >= len(outcomes) // 3, f"{sum(outcomes)} of {len(outcomes)} specs build"

"""Numbers the heuristic roles reason with: training-curve shape and a rough cost model.

Both are deliberately simple. The curve summary turns a candidate's ``task.log`` records into a handful of
judgements (did the loss plateau, diverge, or was it still falling when time ran out?); the cost model
estimates how many optimiser steps a design gets inside its wall budget, which is what the critic checks
before letting a proposal through.
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Any

from pydantic import BaseModel

from agents.offline.design import Design

# Seconds per (points x weights) of one PINN loss + gradient evaluation, measured on one loaded CPU thread
# for tanh MLPs with second derivatives (about 15 ms for 2000 points through a 3x32 network).
PINN_SECONDS_PER_UNIT = 2.4e-9
STEP_OVERHEAD_S = 0.002
# Minibatch steps of small data-fitting networks are dominated by per-step overhead (about 1.2 ms for a 3x64
# MLP on 96 samples, measured), plus ~1e-9 s per multiply-add of the forward pass (backward included).
DATA_SECONDS_PER_UNIT = 1e-9
DATA_STEP_OVERHEAD_S = 0.0006


class CurveSummary(BaseModel):
    """What a training curve says, in a few judgements."""

    records: int = 0
    steps: int = 0
    seconds: float = 0.0
    metric: str = "loss"
    first: float | None = None
    last: float | None = None
    best: float | None = None
    decades: float = 0.0  # orders of magnitude gained from the first to the best value
    late_decades: float = 0.0  # orders of magnitude gained over the last third of the records
    plateau: bool = False
    still_improving: bool = False
    diverged: bool = False
    spikes: int = 0
    phases: list[int] = []
    causal_min_weight: float | None = None
    horizon: float | None = None


def summarise_curve(logs: list[dict[str, Any]]) -> CurveSummary:
    """Judge a curve from ``task.log`` records (``step``, ``t`` and metrics such as ``loss``)."""
    if not logs:
        return CurveSummary()
    metric = (
        "loss"
        if any("loss" in r for r in logs)
        else next((k for k in logs[-1] if k not in ("step", "t", "phase", "lr")), "loss")
    )
    series = [(r.get("step", 0), float(r[metric])) for r in logs if _finite(r.get(metric))]
    summary = CurveSummary(
        records=len(logs),
        steps=int(max(r.get("step", 0) for r in logs)),
        seconds=float(max(r.get("t", 0.0) for r in logs)),
        metric=metric,
        phases=sorted({int(r.get("phase", 0)) for r in logs}),
    )
    last_record = logs[-1]
    if _finite(last_record.get("causal_min_weight")):
        summary.causal_min_weight = float(last_record["causal_min_weight"])
    if _finite(last_record.get("horizon")):
        summary.horizon = float(last_record["horizon"])
    if not series:
        return summary
    values = [v for _, v in series]
    summary.first, summary.last, summary.best = values[0], values[-1], min(values)
    summary.decades = _decades(values[0], min(values))
    third = values[len(values) * 2 // 3 :] if len(values) >= 3 else values
    summary.late_decades = _decades(third[0], min(third))
    # A jump at a phase change or when a time-marching window opens is expected: only count spikes within one
    # stage of training.
    stages = [(r.get("phase"), r.get("horizon")) for r in logs if _finite(r.get(metric))]
    summary.spikes = sum(
        1
        for (a, b), (sa, sb) in zip(itertools.pairwise(values), itertools.pairwise(stages))
        if a > 0 and b > 10 * a and sa == sb
    )
    final = [v for v, stage in zip(values, stages) if stage == stages[-1]]
    summary.diverged = len(final) >= 2 and final[-1] > 100 * max(min(final), 1e-300) and final[-1] > final[0]
    summary.plateau = len(values) >= 4 and summary.late_decades < 0.1 and not summary.diverged
    summary.still_improving = summary.late_decades >= 0.3 and values[-1] <= min(third) * 1.5
    return summary


def curve_from_text(text: str) -> CurveSummary:
    """Recover the judgements of :func:`describe_curve` from a result analysis (ours or an LLM's prose)."""
    lowered = (text or "").lower()
    summary = CurveSummary()
    match = re.search(r"over ([0-9][0-9,]*) steps(?: in ([0-9]+(?:\.[0-9]*)?) s)?", lowered)
    if match:
        summary.steps = int(match.group(1).replace(",", ""))
        summary.seconds = float(match.group(2) or 0.0)
        summary.records = 1
    summary.plateau = "plateau" in lowered
    summary.still_improving = "still falling" in lowered or "still improving" in lowered
    summary.diverged = "diverged" in lowered
    summary.spikes = 1 if "spike" in lowered else 0
    if "l-bfgs phase ran" in lowered:
        summary.phases = [0, 1]
    return summary


def describe_curve(summary: CurveSummary) -> str:
    """A sentence or two about the curve, for the result analyst."""
    if summary.records == 0 or summary.first is None:
        return "No training curve was logged."
    text = (
        f"The {summary.metric} went from {summary.first:.3g} to {summary.last:.3g} (best {summary.best:.3g}, "
        f"{summary.decades:.1f} decades) over {summary.steps} steps in {summary.seconds:.0f} s."
    )
    if summary.diverged:
        text += " It diverged: the final value is far above the best one."
    elif summary.plateau:
        text += " It had plateaued: the last third of training gained less than 0.1 decade."
    elif summary.still_improving:
        text += (
            f" It was still falling when time ran out ({summary.late_decades:.1f} decades in the last third)."
        )
    if summary.spikes:
        text += (
            f" {summary.spikes} spike(s) of more than 10x between consecutive records point to instability."
        )
    if 1 in summary.phases:
        text += " An L-BFGS phase ran" + (" and a float64 phase after it." if 2 in summary.phases else ".")
    if summary.causal_min_weight is not None:
        reached = "reached" if summary.causal_min_weight > 0.5 else "did not reach"
        text += (
            f" The smallest causal weight ended at {summary.causal_min_weight:.2g}: training {reached} the "
            "end of the time interval."
        )
    if summary.horizon is not None and summary.horizon < 1.0:
        text += f" Time marching stopped at {summary.horizon:.0%} of the interval."
    return text


# ------------------------------------------------------------------------------------------------------------
# Cost model
# ------------------------------------------------------------------------------------------------------------
def network_units(design: Design, in_dim: int) -> float:
    """Multiply-adds per point of one forward pass, roughly."""
    net = design.network
    width, depth = net.width, net.depth
    units = in_dim * width + (depth - 1) * width * width + width
    if net.architecture == "modified_mlp":
        units += 2 * in_dim * width + 2 * (depth - 1) * width  # the two encoders and the gating
    elif net.architecture == "moe":
        units = units * net.n_experts + in_dim * width + width * net.n_experts
    elif net.architecture == "resnet":
        units = in_dim * width + 2 * max(1, depth // 2) * width * width + width
    return float(units)


def pinn_input_dim(design: Design, n_variables: int = 2, n_periodic: int = 1) -> int:
    net = design.network
    dim = n_variables
    if design.pinn is not None and design.pinn.exact_periodic:
        dim = n_variables - n_periodic + 2 * net.periodic_harmonics * n_periodic
    if net.fourier_features and net.fourier_on == "inputs":
        dim = 2 * net.fourier_features
    if net.fourier_features and net.fourier_on == "time":
        dim += 2 * net.fourier_features
    return dim


def pinn_step_seconds(design: Design, facts: dict[str, Any]) -> float:
    """Estimated seconds of one loss + gradient evaluation of a PINN design on one CPU thread."""
    assert design.pinn is not None
    n_variables = len(facts.get("variables", ["x", "t"]))
    n_periodic = len(facts.get("periodic", []))
    units = network_units(
        design, pinn_input_dim(design, n_variables, max(n_periodic, 1) if n_periodic else 0)
    )
    order = int(facts.get("derivative_order", 2))
    order_factor = {1: 0.7, 2: 1.0}.get(order, 1.0 + 0.4 * (order - 2)) * (1.0 if n_variables <= 2 else 1.3)
    points = design.pinn.n_collocation
    soft = (
        (not design.pinn.exact_initial) + (not design.pinn.exact_dirichlet) + (not design.pinn.exact_periodic)
    )
    points += soft * design.pinn.n_constraint // 3
    seconds = PINN_SECONDS_PER_UNIT * points * units * order_factor
    if design.pinn.sampling == "rad" and design.pinn.resample_every:
        seconds *= 1 + 3.0 / design.pinn.resample_every  # the scored pool is three times the set
    if design.optim.float64_finish:
        seconds *= 1.15
    return seconds + STEP_OVERHEAD_S


def data_step_seconds(design: Design, facts: dict[str, Any]) -> float:
    """Estimated seconds of one minibatch step for operator and regression designs."""
    if design.kind == "operator":
        assert design.operator is not None
        op = design.operator
        batch = min(design.optim.batch_size, int(facts.get("n_functions", 1000)))
        locations = int(facts.get("n_locations", 100))
        sensors = int(facts.get("n_sensors", 100))
        if op.model == "fno":
            # Per grid point and layer: the pointwise width x width mixing, plus the spectral weights of the
            # retained modes spread over the (padded) grid; a 2-D FNO keeps modes x modes in two corners of
            # the rfft2 spectrum, so its spectral cost grows with the square of the modes.
            dims = max(1, int(getattr(op, "fno_dim", 1)))
            grid = sensors * 1.125**dims
            kept = op.fno_modes if dims == 1 else 2 * op.fno_modes**2
            units = (
                op.fno_layers * (op.fno_width * op.fno_width * (1 + kept / grid))
                + 2 * op.fno_width * 128
            )
            return DATA_SECONDS_PER_UNIT * batch * grid * units + DATA_STEP_OVERHEAD_S
        branch = (
            sensors * op.branch_width
            + (op.branch_depth - 1) * op.branch_width**2
            + op.branch_width * op.latent
        )
        trunk = network_units(design, 1 + 2 * op.trunk_features) + design.network.width * op.latent
        units = batch * branch + locations * trunk + batch * locations * op.latent
        return DATA_SECONDS_PER_UNIT * units + DATA_STEP_OVERHEAD_S
    assert design.regression is not None
    n = min(design.optim.batch_size, int(facts.get("n_samples", 256)))
    dim = (
        2 * design.network.fourier_features
        if design.network.fourier_features
        else int(facts.get("input_dim", 1))
    )
    return DATA_SECONDS_PER_UNIT * n * network_units(design, dim) + DATA_STEP_OVERHEAD_S


def estimated_steps(design: Design, facts: dict[str, Any], budget_seconds: float) -> int:
    """How many loss evaluations the design gets inside its budget (after start-up and the reserve).

    Under a step budget (``facts["budget_steps"]``) that is the budget itself, whatever the design costs
    per step: a wider network then costs wall time, not steps."""
    steps = facts.get("budget_steps")
    usable = float(steps) if steps else max(1.0, budget_seconds * 0.9 - 3.0)
    if design.kind == "regression" and design.regression is not None:
        pieces = len(facts.get("jumps", [])) + 1 if design.regression.split_at_jumps else 1
        usable /= pieces * design.regression.ensemble
    if steps:
        return max(1, int(usable))
    per_step = pinn_step_seconds(design, facts) if design.kind == "pinn" else data_step_seconds(design, facts)
    return int(usable / per_step)


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _decades(first: float, best: float) -> float:
    if first <= 0 or best <= 0:
        return 0.0
    return max(0.0, math.log10(first / best))

"""The offline team's SciML know-how: a catalogue of *moves*, i.e. changes to a design.

Each move knows when it applies, how strongly the evidence (data analysis, the parent's training curve and
score, the retrieved method card) argues for it, what it changes, and what can go wrong with it (which the
critic uses). Relevance is a score with human-readable reasons; the proposer samples among the best moves,
so different parents and iterations explore differently while the strongest evidence still wins.

No move looks at a problem's name: everything is decided from the PDE spec and the analysis facts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agents.offline.design import MAX_FOURIER_SIGMA, Design
from agents.offline.pde_facts import OSCILLATORY_CYCLES
from agents.offline.signals import CurveSummary


@dataclass
class Evidence:
    """Everything a move's relevance may depend on, pre-digested from the proposal context."""

    kind: str
    facts: dict[str, Any]
    budget_seconds: float
    parent: Design
    parent_score: float | None
    curve: CurveSummary
    parent_text: str = ""
    card_moves: set[str] = field(default_factory=set)

    # --- convenient views of the facts --------------------------------------------------------------------
    @property
    def time_dependent(self) -> bool:
        return bool(self.facts.get("time_dependent"))

    @property
    def exact_available(self) -> set[str]:
        return set(self.facts.get("exact_constraints", []))

    @property
    def transport(self) -> bool:
        return (
            bool(self.facts.get("transport_dominated"))
            and float(self.facts.get("temporal_frequency") or 0) > 0
        )

    @property
    def oscillatory(self) -> bool:
        return bool(self.facts.get("oscillatory_solution"))

    @property
    def stiff(self) -> bool:
        return bool(self.facts.get("stiff"))

    @property
    def sharp(self) -> bool:
        width = self.facts.get("sharp_width")
        return width is not None and width < 0.02

    @property
    def residual_heavy(self) -> bool:
        return float(self.facts.get("residual_scale") or 0) > 50

    @property
    def plateau(self) -> bool:
        return self.curve.plateau or "plateau" in self.parent_text

    @property
    def unstable(self) -> bool:
        return self.curve.diverged or self.curve.spikes > 0 or "diverg" in self.parent_text

    @property
    def few_steps(self) -> bool:
        return 0 < self.curve.steps < 1500


Relevance = tuple[float, list[str]]


@dataclass
class Move:
    """One kind of change. ``relevance`` returns (score, reasons); scores of about 2 or more mean the
    evidence points straight at the move, about 1 a reasonable default, below 0.5 a long shot."""

    id: str
    title: str
    kinds: tuple[str, ...]
    applies: Callable[[Design, Evidence], bool]
    relevance: Callable[[Design, Evidence], Relevance]
    apply: Callable[[Design, Evidence], Design]
    risks: tuple[str, ...] = ()
    cards: tuple[str, ...] = ()
    synergies: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()  # moves the critic adds when they are missing (prerequisites)


# ------------------------------------------------------------------------------------------------------------
# PINN moves
# ------------------------------------------------------------------------------------------------------------
def _soft_left(d: Design, e: Evidence) -> list[str]:
    assert d.pinn is not None
    left = []
    if e.facts.get("periodic") and not d.pinn.exact_periodic:
        left.append("periodicity")
    if "initial" in e.exact_available and not d.pinn.exact_initial:
        left.append("the initial condition")
    if "dirichlet" in e.exact_available and not d.pinn.exact_dirichlet:
        left.append("the Dirichlet boundary condition")
    return left


def _hard_relevance(d: Design, e: Evidence) -> Relevance:
    left = _soft_left(d, e)
    score, reasons = (
        1.6,
        [
            (
                f"{' and '.join(left)} can be imposed exactly instead of being penalised, which "
                "removes competing loss terms and their weights"
            )
        ],
    )
    if e.transport or e.stiff:
        score += 1.0
        reasons.append(
            "with fast transport or stiff dynamics a slightly wrong initial state is amplified, so the "
            "initial data should hold exactly"
        )
    if e.residual_heavy:
        score += 0.8
        reasons.append(
            f"the residual is ~{e.facts.get('residual_scale', 0):.0f}x the solution, so a boundary "
            "penalty is drowned in the gradient"
        )
    if e.sharp and e.time_dependent and not e.stiff:
        score += 0.6
        reasons.append(
            "the thin layer grows out of the initial and boundary data, so they fix where it forms"
        )
    return score, reasons


def _hard_apply(d: Design, e: Evidence) -> Design:
    changes: dict[str, Any] = {}
    if e.facts.get("periodic"):
        changes["exact_periodic"] = True
    if "initial" in e.exact_available:
        changes["exact_initial"] = True
    if "dirichlet" in e.exact_available:
        changes["exact_dirichlet"] = True
    network = {"periodic_harmonics": max(1, d.network.periodic_harmonics)} if e.facts.get("periodic") else {}
    return d.evolve(pinn=changes, network=network)


def _temporal_relevance(d: Design, e: Evidence) -> Relevance:
    omega = float(e.facts.get("temporal_frequency") or 0)
    score = 2.6 if e.oscillatory else 1.2
    reasons = [
        (
            f"the analysis predicts oscillation in time at ~{omega:.3g} rad per unit time; random temporal "
            "Fourier features at that scale hand the network those oscillations instead of making it fight its "
            "spectral bias"
        )
    ]
    if e.plateau:
        score += 0.3
        reasons.append("the parent's loss plateaued, the signature of an unresolved oscillation")
    return score, reasons


def _sigma(value: float, digits: int = 1) -> float:
    """A Fourier-feature scale, rounded and within what a design accepts (extreme equations ask for more)."""
    return min(MAX_FOURIER_SIGMA, float(round(value, digits)))


def _temporal_apply(d: Design, e: Evidence) -> Design:
    omega = float(e.facts.get("temporal_frequency") or 1.0)
    # sigma below the target frequency: the Gaussian spreads the features over 0..2 sigma
    sigma = _sigma(max(1.0, 0.67 * omega))
    return d.evolve(network={"fourier_features": 16, "fourier_sigma": sigma, "fourier_on": "time"})


def _lbfgs_relevance(d: Design, e: Evidence) -> Relevance:
    score, reasons = (
        1.3,
        [
            (
                "PINN losses are badly conditioned; L-BFGS uses curvature and converges far faster "
                "than Adam once near a basin"
            )
        ],
    )
    if e.plateau:
        score += 0.8
        reasons.append("the parent's Adam curve plateaued")
    if e.oscillatory or e.stiff:
        score += 0.7
        reasons.append("the oscillatory/stiff regime is exactly where first-order methods stall")
    if d.pinn is not None and not _soft_left(d, e):
        score += 0.4
        reasons.append(
            "with every condition exact the loss is a single smooth term, ideal for a quasi-Newton method"
        )
    return score, reasons


def _lbfgs_apply(d: Design, e: Evidence) -> Design:
    exact = d.pinn is None or not _soft_left(d, e)
    return d.evolve(optim={"lbfgs_fraction": 0.9 if exact else 0.6, "lbfgs_resample": True})


def _marching_relevance(d: Design, e: Evidence) -> Relevance:
    score, reasons = (
        0.8,
        ["training on a growing time window lets early times settle before later ones are fitted"],
    )
    if e.stiff:
        score += 1.8
        reasons.append(
            "the dynamics are stiff, so errors made early are amplified later: the solution must be "
            "built causally"
        )
    if e.sharp and e.time_dependent:
        score += 0.4
        reasons.append("the sharp interfaces form over time; resolving them window by window is easier")
    if e.curve.horizon is None and e.plateau:
        score += 0.3
    return score, reasons


def _marching_apply(d: Design, e: Evidence) -> Design:
    return d.evolve(pinn={"time_windows": 5})


def _causal_relevance(d: Design, e: Evidence) -> Relevance:
    score, reasons = 0.8, ["causal weights let a time slice count only after the earlier ones are resolved"]
    if e.stiff:
        score += 0.4
        reasons.append("stiff dynamics punish fitting late times first")
    if e.transport:
        score += 0.4
        reasons.append("transport carries early errors forward")
    assert d.pinn is not None
    if d.pinn.time_windows > 1:
        score -= 0.6
        reasons.append("(time marching already enforces most of this)")
    return score, reasons


def _causal_apply(d: Design, e: Evidence) -> Design:
    return d.evolve(pinn={"causal_eps": 3.0, "causal_chunks": 32})


def _rad_relevance(d: Design, e: Evidence) -> Relevance:
    score, reasons = (
        0.7,
        ["residual-based resampling moves collocation points to where the equation is violated"],
    )
    if e.sharp:
        score += 1.4
        reasons.append(
            f"a layer of width ~{e.facts.get('sharp_width', 0):.2g} is far thinner than the point "
            "spacing; uniform points rarely land in it"
        )
    return score, reasons


def _rad_apply(d: Design, e: Evidence) -> Design:
    assert d.pinn is not None
    return d.evolve(
        pinn={"sampling": "rad", "resample_every": d.pinn.resample_every or 100, "rad_k": 1.0, "rad_c": 1.0}
    )


def _points_relevance(d: Design, e: Evidence) -> Relevance:
    score, reasons = (
        0.5,
        ["more collocation points reduce the gap between the training and the true residual"],
    )
    if e.sharp:
        score += 0.5
        reasons.append("sharp features need dense sampling")
    if e.few_steps:
        score -= 1.0
    return score, reasons


def _points_apply(d: Design, e: Evidence) -> Design:
    assert d.pinn is not None
    return d.evolve(pinn={"n_collocation": min(16_000, d.pinn.n_collocation * 2)})


def _speed_relevance(d: Design, e: Evidence) -> Relevance:
    score = 0.2
    reasons = [f"the parent only managed {e.curve.steps} optimiser steps in its budget"]
    if e.few_steps:
        score += 2.0
        reasons.append("too few to converge; a leaner network and point set buy several times more steps")
    return score, reasons


def _speed_apply(d: Design, e: Evidence) -> Design:
    assert d.pinn is not None
    width, points = d.network.width, d.pinn.n_collocation  # never above the parent's: this move saves time
    return d.evolve(
        network={"width": min(width, max(32, int(width * 0.65))), "depth": min(d.network.depth, 3)},
        pinn={"n_collocation": min(points, max(1000, points // 2))},
    )


def _spatial_cycles(e: Evidence) -> float:
    """Periods of the data across the domain along its finest spatial axis (0 when unknown)."""
    lengths = e.facts.get("lengths") or {}
    return max(
        (float(k) * float(lengths.get(axis, 0.0)) / (2 * math.pi)
         for axis, k in (e.facts.get("wavenumbers") or {}).items()),
        default=0.0,
    )


def _input_fourier_relevance(d: Design, e: Evidence) -> Relevance:
    k = float(e.facts.get("max_wavenumber") or 0)
    score = 0.4
    reasons = ["random Fourier features of the inputs counter the spectral bias of the network"]
    cycles = _spatial_cycles(e) if e.time_dependent else max(_spatial_cycles(e), float(e.facts.get("max_cycles") or 0))
    if cycles > OSCILLATORY_CYCLES or (not e.time_dependent and k > 6 and not e.facts.get("lengths")):
        score += 1.6
        reasons.append(
            f"the solution oscillates with wavenumbers up to {k:.3g} ({cycles:.2g} periods across the domain); "
            "features at that scale, axis by axis, make it representable from the start"
        )
    return score, reasons


def _input_fourier_apply(d: Design, e: Evidence) -> Design:
    """Per-axis scales where the analysis knows each axis's wavenumber (physical k times the half-length is
    the frequency in the normalised input; the Gaussian spreads features over 0..2 sigma), else one scale."""
    k = float(e.facts.get("max_wavenumber") or 0)
    bounds = e.facts.get("bounds") or [[-1.0, 1.0]]
    half = max(0.5 * (hi - lo) for lo, hi in bounds)
    sigma = _sigma(max(1.0, 0.5 * k * half)) if k else 2.0
    variables = list(e.facts.get("variables") or [])
    wavenumbers = e.facts.get("wavenumbers") or {}
    axis_sigma: list[float] = []
    if variables and len(variables) == len(bounds) and wavenumbers and not e.facts.get("periodic"):
        time = e.facts.get("time_variable")
        omega = float(e.facts.get("temporal_frequency") or 0)
        for name, (lo, hi) in zip(variables, bounds):
            rate = omega if (e.time_dependent and name == time) else float(wavenumbers.get(name, 0.0))
            axis_sigma.append(_sigma(max(0.5, 0.5 * rate * 0.5 * (hi - lo)), 2))
        sigma = max(axis_sigma)
    return d.evolve(network={"fourier_features": 32, "fourier_sigma": sigma, "fourier_on": "inputs",
                             "fourier_axis_sigma": axis_sigma or None})


def _sine_relevance(d: Design, e: Evidence) -> Relevance:
    score = 0.5 + (0.8 if e.oscillatory and not e.time_dependent else 0.0)
    return score, [
        "sine activations represent oscillatory solutions with few neurons and keep smooth derivatives"
    ]


def _modified_relevance(d: Design, e: Evidence) -> Relevance:
    score, reasons = (
        1.0,
        [
            (
                "the modified MLP's gating makes multiplicative structure cheap and eases the stiffness "
                "of the PINN gradient flow"
            )
        ],
    )
    if e.stiff or e.residual_heavy:
        score += 0.6
        reasons.append("it was designed for exactly this kind of stiff or unbalanced residual")
    return score, reasons


def _annealing_relevance(d: Design, e: Evidence) -> Relevance:
    score, reasons = (
        0.6,
        ["balancing the loss terms by their gradient statistics keeps the penalties from being drowned"],
    )
    if e.residual_heavy:
        score += 1.2
        reasons.append("the residual is orders of magnitude larger than the boundary term here")
    return score, reasons


def _adaptive_weights_relevance(d: Design, e: Evidence) -> Relevance:
    return 0.6 + (0.4 if e.sharp else 0.0), [
        "per-point self-adaptive weights focus the optimiser on the points that stay wrong"
    ]


def _float64_relevance(d: Design, e: Evidence) -> Relevance:
    score, reasons = 0.3, ["float32 round-off limits how far L-BFGS can push the residual"]
    if e.parent_score is not None and e.parent_score < 1e-2:
        score += 1.5
        reasons.append(f"the parent is already at {e.parent_score:.2g}, where that limit starts to matter")
    return score, reasons


def _widen_relevance(d: Design, e: Evidence) -> Relevance:
    score, reasons = 0.5, ["a larger network has more capacity for fine structure"]
    if e.plateau and not e.few_steps:
        score += 0.5
        reasons.append("the loss plateaued with plenty of steps, which suggests a capacity limit")
    if e.few_steps:
        score -= 1.0
    return score, reasons


def _widen_apply(d: Design, e: Evidence) -> Design:
    return d.evolve(network={"width": min(256, int(d.network.width * 1.5))})


def _schedule_relevance(d: Design, e: Evidence) -> Relevance:
    score, reasons = 0.6, ["a decaying learning rate lets Adam settle instead of rattling around the minimum"]
    if e.unstable:
        score += 0.8
        reasons.append("the parent's curve shows spikes")
    if e.plateau:
        score += 0.3
    if d.optim.lbfgs_fraction >= 0.5:
        score -= 0.5
    return score, reasons


def _schedule_apply(d: Design, e: Evidence) -> Design:
    return d.evolve(optim={"schedule": "cosine", "lr_final_ratio": 0.05})


def _lower_lr_relevance(d: Design, e: Evidence) -> Relevance:
    if e.curve.diverged or "diverg" in e.parent_text:
        return 2.0, ["the parent's loss diverged; a smaller step and gradient clipping stabilise it"]
    if e.unstable and d.optim.lbfgs_fraction < 0.5:
        return 1.2, ["the parent's Adam curve spiked; a smaller step and gradient clipping stabilise it"]
    return 0.1, ["a smaller learning rate is steadier but slower"]


def _lower_lr_apply(d: Design, e: Evidence) -> Design:
    return d.evolve(optim={"lr": max(1e-5, d.optim.lr * 0.3), "grad_clip": d.optim.grad_clip or 1.0})


def _adaptive_tanh_relevance(d: Design, e: Evidence) -> Relevance:
    return 0.4, ["a trainable activation slope speeds up the early phase of training"]


def _moe_relevance(d: Design, e: Evidence) -> Relevance:
    score = 0.3 + (0.4 if e.sharp else 0.0) + (0.9 if e.facts.get("jumps") else 0.0)
    return score, [
        (
            "a gated mixture of experts can hand different regions (e.g. the two sides of a front) to "
            "different networks"
        )
    ]


def _moe_apply(d: Design, e: Evidence) -> Design:
    return d.evolve(network={"architecture": "moe", "n_experts": 3, "width": max(16, d.network.width // 2)})


# ------------------------------------------------------------------------------------------------------------
# Operator moves
# ------------------------------------------------------------------------------------------------------------
def _is_deeponet(d: Design) -> bool:
    return d.operator is not None and d.operator.model == "deeponet"


def fno_grid_dim(facts: dict[str, Any]) -> int | None:
    """The dimension of the regular grid an FNO can run on (1 or 2), or ``None`` when the data have none.

    1: sensors regularly spaced on a line and outputs at 1-D locations. 2: sensors on a regular 2-D tensor grid
    (at least 4 nodes per axis) and outputs at 2-D locations, which the candidate reaches from the grid by
    bilinear interpolation (exactly the grid nodes when they coincide).
    """
    if not facts.get("grid_sampled"):
        return None
    location_dim = int(facts.get("location_dim") or 1)
    sensor_dim = int(facts.get("sensor_dim") or 1)
    if location_dim == 1 and sensor_dim == 1:
        return 1
    shape = facts.get("sensor_grid_shape") or []
    if location_dim == 2 and sensor_dim == 2 and len(shape) == 2 and min(shape) >= 4:
        return 2
    return None


def _fno_relevance(d: Design, e: Evidence) -> Relevance:
    dim = fno_grid_dim(e.facts) or 1
    where = "a regular grid" if dim == 1 else "a regular 2-D grid (" + " x ".join(
        str(n) for n in e.facts.get("sensor_grid_shape") or []) + ")"
    score, reasons = (
        1.3,
        [
            (
                f"the inputs are sampled on {where}, where a Fourier neural operator learns the map "
                "as global convolutions"
            )
        ],
    )
    if int(e.facts.get("sensor_modes_99") or 99) <= (32 if dim == 1 else 16):
        score += 0.4
        reasons.append(
            f"the input energy sits in the first {e.facts.get('sensor_modes_99')} modes"
            + (" per axis" if dim > 1 else "")
            + ", so a few retained modes suffice"
        )
    if dim == 2:
        score += 0.3
        reasons.append(
            "on a 2-D grid the DeepONet branch sees the field as a flat vector, while the FNO keeps its "
            "neighbourhoods"
        )
    if float(e.facts.get("linear_fit_rel_error") or 1.0) < 1e-2:
        score += 0.4
        reasons.append("the map is close to linear, which an FNO's spectral layers capture directly")
    return score, reasons


def _fno_apply(d: Design, e: Evidence) -> Design:
    dim = fno_grid_dim(e.facts) or 1
    if dim == 1:
        modes, width = int(min(32, max(12, (e.facts.get("sensor_modes_99") or 16) + 4))), 32
    else:  # modes per axis: a 2-D layer holds 2 modes^2 width^2 complex weights
        smallest = min(e.facts.get("sensor_grid_shape") or [16])
        modes = int(min(16, max(4, (e.facts.get("sensor_modes_99") or 8) + 2), max(2, smallest // 2)))
        width = 24
    return d.evolve(
        operator={"model": "fno", "fno_modes": modes, "fno_width": width, "fno_layers": 4, "fno_dim": dim},
        optim={
            "lbfgs_fraction": 0.0,
            "float64_finish": False,
            "batch_size": 32,
            "lr": 2e-3,
            "schedule": "cosine",
            "lr_final_ratio": 0.02,
        },
    )


def _linear_branch_relevance(d: Design, e: Evidence) -> Relevance:
    error = float(e.facts.get("linear_fit_rel_error") or 1.0)
    if error < 1e-3:
        return 3.0, [
            (
                f"a linear least-squares map from the sensor values reproduces held-out outputs to {error:.1g}: "
                "the operator is linear, so a DeepONet whose branch is a single linear layer represents it "
                "exactly and leaves only the trunk's basis to learn"
            )
        ]
    if error < 5e-2:
        return 1.0, [
            (
                f"the operator is close to linear (linear fit error {error:.2g}); a linear branch is a strong "
                "prior"
            )
        ]
    return 0.0, []


def _least_squares_relevance(d: Design, e: Evidence) -> Relevance:
    error = float(e.facts.get("linear_fit_rel_error") or 1.0)
    if error < 1e-3:
        return 3.2, [
            (
                f"the data analyst's linear least-squares map from sensor values to outputs already reproduces "
                f"held-out training functions to {error:.1g}: the operator is linear in u, so the best model "
                "is that map itself, fitted in closed form, with no training noise at all"
            )
        ]
    n, m = int(e.facts.get("n_functions") or 0), int(e.facts.get("n_sensors") or 1)
    score = 0.6 + (0.4 if n > 5 * m else 0.0)
    return score, [
        "a random-feature least-squares model is a cheap, training-free baseline for smooth operators"
    ]


def _least_squares_apply(d: Design, e: Evidence) -> Design:
    error = float(e.facts.get("linear_fit_rel_error") or 1.0)
    n = int(e.facts.get("n_functions") or 1000)
    features = 0 if error < 1e-3 else int(min(4000, max(200, n // 2)))
    return d.evolve(
        operator={
            "model": "random_features",
            "rf_features": features,
            "rf_scale": 1.0,
            "ridge": 1e-10 if features == 0 else 1e-6,
        },
        optim={"lbfgs_fraction": 0.0, "float64_finish": False},
    )


def _more_features_relevance(d: Design, e: Evidence) -> Relevance:
    if float(e.facts.get("linear_fit_rel_error") or 1.0) < 1e-3:
        return 0.3, ["random features add nonlinearity, which this (linear) operator does not need"]
    return 1.2, [
        "more random features let the least-squares model capture more of the operator's nonlinearity"
    ]


def _more_features_apply(d: Design, e: Evidence) -> Design:
    assert d.operator is not None
    count = max(200, 2 * d.operator.rf_features)
    return d.evolve(operator={"rf_features": min(20_000, count), "ridge": max(d.operator.ridge, 1e-6)})


def _capacity_relevance(d: Design, e: Evidence) -> Relevance:
    score, reasons = (
        0.9,
        ["a larger basis (p) and branch let the DeepONet represent more of the output space"],
    )
    if e.plateau:
        score += 0.5
        reasons.append("the parent plateaued, consistent with a too-small basis")
    return score, reasons


def _capacity_apply(d: Design, e: Evidence) -> Design:
    assert d.operator is not None
    op = d.operator
    return d.evolve(
        operator={"latent": min(256, op.latent * 2), "branch_width": min(512, op.branch_width * 2)},
        network={"width": min(256, max(d.network.width, op.latent * 2))},
    )


def _smooth_activation_relevance(d: Design, e: Evidence) -> Relevance:
    if d.network.activation in ("relu",):
        return 1.1, [
            (
                "the targets are smooth functions; a smooth activation (tanh/GELU) fits them with fewer "
                "parameters than piecewise-linear ReLU units"
            )
        ]
    return 0.0, []


def _smooth_activation_apply(d: Design, e: Evidence) -> Design:
    return d.evolve(network={"activation": "tanh" if d.kind == "regression" else "gelu"})


def _data_lbfgs_relevance(d: Design, e: Evidence) -> Relevance:
    score, reasons = (
        0.9,
        [
            (
                "the data set is small enough for full-batch L-BFGS, which converges much further than "
                "minibatch Adam in the same time"
            )
        ],
    )
    if float(e.facts.get("linear_fit_rel_error") or 1.0) < 1e-2:
        score += 0.6
        reasons.append("the target map is nearly linear, so the loss is close to quadratic")
    if d.kind == "regression" and float(e.facts.get("noise_to_signal") or 0) > 0.05:
        score -= 0.5
        reasons.append("(but the data are noisy, so converging hard risks fitting the noise)")
    return score, reasons


def _data_lbfgs_apply(d: Design, e: Evidence) -> Design:
    return d.evolve(optim={"lbfgs_fraction": 0.5})


def _trunk_features_relevance(d: Design, e: Evidence) -> Relevance:
    return 0.5, ["harmonics of the query location give the trunk an oscillatory basis to start from"]


def _batch_relevance(d: Design, e: Evidence) -> Relevance:
    return 0.4, ["a larger batch gives smoother gradients and, with a higher learning rate, faster progress"]


def _batch_apply(d: Design, e: Evidence) -> Design:
    return d.evolve(
        optim={"batch_size": min(1024, d.optim.batch_size * 2), "lr": min(1e-2, d.optim.lr * 1.5)}
    )


def _fno_modes_relevance(d: Design, e: Evidence) -> Relevance:
    assert d.operator is not None
    needed = int(e.facts.get("sensor_modes_99") or 16)
    if d.operator.fno_modes < needed:
        return 1.5, [f"the FNO keeps {d.operator.fno_modes} modes but the inputs need ~{needed}"]
    return 0.4, ["more retained modes allow finer output detail"]


def _fno_modes_apply(d: Design, e: Evidence) -> Design:
    assert d.operator is not None
    if d.operator.fno_dim > 1:  # per axis: the cost grows with the square
        return d.evolve(operator={"fno_modes": min(32, d.operator.fno_modes + 4)})
    return d.evolve(operator={"fno_modes": min(64, d.operator.fno_modes + 8)})


def _fno_width_relevance(d: Design, e: Evidence) -> Relevance:
    return 0.7 + (0.4 if e.plateau else 0.0), ["a wider FNO has more channels per Fourier layer"]


def _fno_width_apply(d: Design, e: Evidence) -> Design:
    assert d.operator is not None
    return d.evolve(operator={"fno_width": min(96, d.operator.fno_width + 16)})


# ------------------------------------------------------------------------------------------------------------
# Regression moves
# ------------------------------------------------------------------------------------------------------------
def _split_relevance(d: Design, e: Evidence) -> Relevance:
    jumps = e.facts.get("jumps") or []
    where = ", ".join(
        f"x{j['axis']} = {j['location']:.3g}" if "axis" in j else f"x = {j['location']:.3g}" for j in jumps
    )
    return 3.0, [
        (
            f"the analysis found {len(jumps)} jump(s) ({where}); a single smooth network smears a jump over "
            "its neighbourhood, while one network per piece never has to represent it"
        )
    ]


def _split_apply(d: Design, e: Evidence) -> Design:
    jumps = e.facts.get("jumps") or []
    points = [float(round(j["location"], 6)) for j in jumps]
    changes: dict[str, Any] = {"split_at_jumps": True, "split_points": points}
    if any("axis" in j for j in jumps):  # planes x_k = c of a multi-dimensional input
        changes["split_axes"] = [int(j.get("axis", 0)) for j in jumps]
        # rounding to 6 digits would move a plane of tiny or huge inputs: keep those locations as found
        changes["split_points"] = [float(j["location"]) for j in jumps]
    return d.evolve(regression=changes)


def _regression_fourier_relevance(d: Design, e: Evidence) -> Relevance:
    cycles = float(e.facts.get("max_cycles_per_unit") or 0)
    score = 0.4
    reasons = ["Fourier features counter spectral bias"]
    if cycles > 1.5:
        score += 1.6
        reasons = [
            (f"a piece of the data oscillates at ~{cycles:.2g} cycles per unit; Fourier features at that "
            "frequency let the network fit it instead of smoothing it away (spectral bias)")
        ]
        sampled = [
            p.get("samples_per_period") for p in e.facts.get("pieces") or [] if p.get("samples_per_period")
        ]
        noise = float(e.facts.get("noise_to_signal") or 0)
        if sampled and min(sampled) < 12 and noise > 0.01:
            score -= 0.8
            reasons.append(
                f"(but with ~{min(sampled):.0f} noisy samples per period, features that fast can also interpolate "
                "the noise)"
            )
    return score, reasons


def _regression_fourier_apply(d: Design, e: Evidence) -> Design:
    cycles = float(e.facts.get("max_cycles_per_unit") or 1.0)
    # Inputs are standardised: a piece of length L has std ~L/sqrt(12), so the angular frequency per unit of
    # standardised input is 2 pi f L / sqrt(12).
    pieces = e.facts.get("pieces") or []
    lengths = [p["high"] - p["low"] for p in pieces if p.get("cycles_per_unit", 0) >= 0.9 * cycles] or [1.0]
    omega = 2 * math.pi * cycles * max(lengths) / math.sqrt(12)
    return d.evolve(
        network={
            "fourier_features": 32,
            "fourier_sigma": _sigma(max(1.0, 0.5 * omega)),
            "fourier_on": "inputs",
        }
    )


def _weight_decay_relevance(d: Design, e: Evidence) -> Relevance:
    noise = float(e.facts.get("noise_to_signal") or 0)
    score = 0.3 + (0.6 if noise > 0.01 else 0.0)
    return score, [
        f"the samples carry noise (~{noise:.1%} of the signal); weight decay keeps the fit from chasing it"
    ]


def _weight_decay_apply(d: Design, e: Evidence) -> Design:
    return d.evolve(optim={"weight_decay": 1e-4})


def _ensemble_relevance(d: Design, e: Evidence) -> Relevance:
    noise = float(e.facts.get("noise_to_signal") or 0)
    return 0.5 + (0.4 if noise > 0.01 else 0.0), [
        (
            "averaging independently trained networks cancels part of their "
            "individual errors (and of the noise they fit)"
        )
    ]


def _ensemble_apply(d: Design, e: Evidence) -> Design:
    return d.evolve(regression={"ensemble": 3})


#: beyond this many samples per piece the GP fits its hyperparameters on a seeded subset (Design caps it)
GP_MAX_POINTS = 4000


def is_gaussian_process(d: Design) -> bool:
    return d.regression is not None and d.regression.model == "gaussian_process"


def other_kernel(d: Design) -> Design:
    """The same Gaussian process with the other kernel family."""
    assert d.regression is not None
    return d.evolve(regression={"gp_kernel": "matern52" if d.regression.gp_kernel == "rbf" else "rbf"})


def _gp_applies(d: Design, e: Evidence) -> bool:
    n = int(e.facts.get("n_samples") or 0)
    return d.regression is not None and not is_gaussian_process(d) and n >= 8


def _gp_relevance(d: Design, e: Evidence) -> Relevance:
    n = int(e.facts.get("n_samples") or 0)
    dims = len(e.facts.get("x_min") or [1])
    noise = e.facts.get("noise_to_signal")
    score = 1.0
    reasons = [
        "an exact Gaussian process weighs data fit against smoothness through its marginal likelihood, "
        "so its length scales and noise level come from the data rather than from a training schedule"
    ]
    if n <= 2000:
        score += 1.2
        heard = f" (the analyst estimates ~{noise:.1%} noise)" if noise else ""
        reasons = [
            f"with {n} samples in {dims} input(s), exact Gaussian-process regression is the standard "
            f"small-data regressor: it estimates the noise{heard} from the marginal likelihood instead of "
            "fitting it, and needs no optimiser steps beyond a few dozen likelihood evaluations"
        ]
    elif n > GP_MAX_POINTS:
        score -= 0.6
        reasons.append(f"(but with {n} samples it must fit on a subset of {GP_MAX_POINTS // 2})")
    if dims > 6:
        score -= 0.5
        reasons.append(f"(a stationary kernel over {dims} inputs needs many samples to resolve each direction)")
    if e.facts.get("jumps") and not (d.regression and d.regression.split_at_jumps):
        score -= 0.8
        reasons.append("(a stationary kernel smears a jump, so it belongs on the pieces of a split fit)")
    return score, reasons


def _gp_apply(d: Design, e: Evidence) -> Design:
    """The GP replaces the network: the network and optimiser sections go back to their defaults, so that GP
    designs grown from different networks are the same design (and the novelty check sees it)."""
    n = int(e.facts.get("n_samples") or 0)
    points = int(min(GP_MAX_POINTS // 2, max(50, n))) if n > GP_MAX_POINTS else 1500
    return d.evolve(
        network=type(d.network)().model_dump(),
        optim=type(d.optim)().model_dump(),
        regression={"model": "gaussian_process", "ensemble": 1, "gp_points": points},
    )


def _gp_kernel_relevance(d: Design, e: Evidence) -> Relevance:
    assert d.regression is not None
    if d.regression.gp_kernel == "rbf":
        return 0.8, [
            "a Matern 5/2 kernel assumes a function only twice differentiable; the squared exponential "
            "assumes an infinitely smooth one and over-smooths kinks and fast local changes"
        ]
    return 0.6, ["a squared-exponential kernel suits a function smoother than the Matern 5/2 assumes"]


def _gp_kernel_apply(d: Design, e: Evidence) -> Design:
    return other_kernel(d)


def _gp_points_relevance(d: Design, e: Evidence) -> Relevance:
    assert d.regression is not None
    n = int(e.facts.get("n_samples") or 0)
    return 1.4, [
        f"the GP is fitted on {d.regression.gp_points} of the {n} samples; the rest carry information too"
    ]


def _gp_points_apply(d: Design, e: Evidence) -> Design:
    assert d.regression is not None
    return d.evolve(regression={"gp_points": min(GP_MAX_POINTS, 2 * d.regression.gp_points)})


def _regression_widen_relevance(d: Design, e: Evidence) -> Relevance:
    return 0.4, ["more capacity"]


# ------------------------------------------------------------------------------------------------------------
# The catalogue
# ------------------------------------------------------------------------------------------------------------
def _pinn(d: Design) -> Any:
    assert d.pinn is not None
    return d.pinn


MOVES: list[Move] = [
    Move(
        "hard_constraints",
        "impose the conditions exactly",
        ("pinn",),
        applies=lambda d, e: bool(_soft_left(d, e)),
        relevance=_hard_relevance,
        apply=_hard_apply,
        risks=(
            "the initial-condition ansatz u0 + t N makes N carry du/dt, which is large for fast dynamics",
        ),
        cards=("hard-constraint-ansatz", "distance-function-bc", "periodic-fourier-embedding"),
        synergies=("temporal_features", "lbfgs", "time_marching"),
    ),
    Move(
        "temporal_features",
        "add temporal Fourier features",
        ("pinn",),
        applies=lambda d, e: (
            e.time_dependent
            and float(e.facts.get("temporal_frequency") or 0) > 0
            and not (d.network.fourier_features and d.network.fourier_on == "time")
        ),
        relevance=_temporal_relevance,
        apply=_temporal_apply,
        risks=(
            "features far above the true frequency add noise-like components the residual must cancel",
            "Adam alone rarely turns these features into an accurate solution within a minute",
        ),
        cards=("random-fourier-features", "multiscale-fourier-features"),
        synergies=("hard_constraints", "lbfgs"),
        requires=("hard_constraints", "lbfgs"),
    ),
    Move(
        "lbfgs",
        "finish with L-BFGS",
        ("pinn",),
        applies=lambda d, e: d.optim.lbfgs_fraction == 0,
        relevance=_lbfgs_relevance,
        apply=_lbfgs_apply,
        risks=(
            "L-BFGS on one fixed point set overfits it: the residual between the points can stay large",
            "a line search can blow up on a non-smooth loss; the candidate rolls back if it does",
        ),
        cards=("adam-then-lbfgs", "levenberg-marquardt"),
        synergies=("hard_constraints",),
    ),
    Move(
        "time_marching",
        "march in time",
        ("pinn",),
        applies=lambda d, e: e.time_dependent and _pinn(d).time_windows == 1,
        relevance=_marching_relevance,
        apply=_marching_apply,
        risks=("each window gets only a fraction of the budget; errors of early windows carry forward",),
        cards=("time-marching", "seq2seq-time", "multi-stage-training"),
        synergies=("modified_mlp", "causal_weighting"),
        requires=("hard_constraints", "lbfgs"),
    ),
    Move(
        "causal_weighting",
        "weight the residual causally",
        ("pinn",),
        applies=lambda d, e: e.time_dependent and _pinn(d).causal_eps == 0,
        relevance=_causal_relevance,
        apply=_causal_apply,
        risks=("too large an eps starves the late time slices of gradient; too small does nothing",),
        cards=("causal-training",),
        synergies=("time_marching", "modified_mlp"),
        requires=("hard_constraints",),
    ),
    Move(
        "rad_sampling",
        "resample adaptively (RAD)",
        ("pinn",),
        applies=lambda d, e: _pinn(d).sampling == "uniform",
        relevance=_rad_relevance,
        apply=_rad_apply,
        risks=("scoring the candidate pool costs extra residual evaluations",),
        cards=(
            "residual-adaptive-distribution",
            "residual-adaptive-refinement",
            "r3-sampling",
            "importance-sampling",
        ),
        synergies=("hard_constraints", "lbfgs"),
    ),
    Move(
        "more_points",
        "use more collocation points",
        ("pinn",),
        applies=lambda d, e: _pinn(d).n_collocation < 16_000,
        relevance=_points_relevance,
        apply=_points_apply,
        risks=("every step gets proportionally slower",),
        cards=("quasi-random-collocation",),
    ),
    Move(
        "speed_up",
        "make each step cheaper",
        ("pinn",),
        applies=lambda d, e: d.network.width > 32 or _pinn(d).n_collocation > 1000,
        relevance=_speed_relevance,
        apply=_speed_apply,
        risks=("a smaller network may lack the capacity for fine structure",),
    ),
    Move(
        "input_fourier",
        "add Fourier features of the inputs",
        ("pinn",),
        applies=lambda d, e: not d.network.fourier_features,
        relevance=_input_fourier_relevance,
        apply=_input_fourier_apply,
        risks=("too large a sigma gives noisy, overfitting solutions",),
        cards=("random-fourier-features", "multiscale-fourier-features", "siren"),
    ),
    Move(
        "sine_activation",
        "switch to sine activations",
        ("pinn",),
        applies=lambda d, e: d.network.activation != "sin",
        relevance=_sine_relevance,
        apply=lambda d, e: d.evolve(network={"activation": "sin"}),
        risks=("sine networks are sensitive to initialisation",),
        cards=("siren",),
    ),
    Move(
        "modified_mlp",
        "use the modified MLP",
        ("pinn",),
        applies=lambda d, e: d.network.architecture != "modified_mlp",
        relevance=_modified_relevance,
        apply=lambda d, e: d.evolve(network={"architecture": "modified_mlp"}),
        risks=("about 1.5x the cost per step of a plain MLP of the same size",),
        cards=("modified-mlp", "piratenets", "residual-mlp"),
    ),
    Move(
        "lr_annealing",
        "balance loss weights by gradient statistics",
        ("pinn",),
        applies=lambda d, e: bool(_soft_left(d, e)) and _pinn(d).weighting != "lr_annealing",
        relevance=_annealing_relevance,
        apply=lambda d, e: d.evolve(pinn={"weighting": "lr_annealing"}),
        risks=("each update needs one extra backward pass per loss term",),
        cards=("learning-rate-annealing", "ntk-loss-weighting"),
    ),
    Move(
        "self_adaptive",
        "self-adaptive point weights",
        ("pinn",),
        applies=lambda d, e: bool(_soft_left(d, e)) and _pinn(d).weighting != "self_adaptive",
        relevance=_adaptive_weights_relevance,
        apply=lambda d, e: d.evolve(pinn={"weighting": "self_adaptive"}),
        risks=("weights grow without bound on points that cannot be fitted",),
        cards=("self-adaptive-weights",),
    ),
    Move(
        "float64_finish",
        "finish in float64",
        ("pinn", "operator", "regression"),
        applies=lambda d, e: (
            not d.optim.float64_finish
            and d.optim.lbfgs_fraction > 0
            and not (d.operator is not None and d.operator.model == "fno")
        ),
        relevance=_float64_relevance,
        apply=lambda d, e: d.evolve(optim={"float64_finish": True}),
        risks=("float64 steps cost roughly twice as much on CPU",),
        cards=("float64-finish",),
    ),
    Move(
        "widen",
        "widen the network",
        ("pinn", "regression"),
        applies=lambda d, e: d.network.width < 128,
        relevance=_widen_relevance,
        apply=_widen_apply,
        risks=("wider networks take fewer steps in the same time",),
    ),
    Move(
        "lr_schedule",
        "decay the learning rate",
        ("pinn", "operator", "regression"),
        applies=lambda d, e: d.optim.schedule == "none",
        relevance=_schedule_relevance,
        apply=_schedule_apply,
        risks=("decaying too early freezes a poor solution",),
        cards=("learning-rate-schedules",),
    ),
    Move(
        "lower_lr",
        "lower the learning rate and clip gradients",
        ("pinn", "operator", "regression"),
        applies=lambda d, e: d.optim.lr > 2e-5,
        relevance=_lower_lr_relevance,
        apply=_lower_lr_apply,
        risks=("slower progress per step",),
    ),
    Move(
        "adaptive_tanh",
        "adaptive activation slopes",
        ("pinn",),
        applies=lambda d, e: d.network.activation == "tanh",
        relevance=_adaptive_tanh_relevance,
        apply=lambda d, e: d.evolve(network={"activation": "adaptive_tanh"}),
        risks=("slopes can grow and make the network stiff",),
        cards=("adaptive-activation", "locally-adaptive-activation"),
    ),
    Move(
        "mixture_of_experts",
        "a gated mixture of experts",
        ("pinn", "regression"),
        applies=lambda d, e: d.network.architecture != "moe",
        relevance=_moe_relevance,
        apply=_moe_apply,
        risks=("the gate can collapse onto one expert",),
        cards=("mixture-of-experts-pinn", "mixture-of-experts-operator"),
    ),
    # operator learning
    Move(
        "fno",
        "switch to a Fourier neural operator",
        ("operator",),
        applies=lambda d, e: _is_deeponet(d) and fno_grid_dim(e.facts) is not None,
        relevance=_fno_relevance,
        apply=_fno_apply,
        risks=("the FFT assumes periodic data; a non-periodic output needs the padding the candidate adds",),
        cards=("fourier-neural-operator", "factorized-fno", "u-fno", "tensorized-fno"),
    ),
    Move(
        "least_squares",
        "fit the operator by least squares on the sensor values",
        ("operator",),
        applies=lambda d, e: (
            d.operator is not None
            and d.operator.model != "random_features"
            and e.facts.get("n_functions") is not None
        ),
        relevance=_least_squares_relevance,
        apply=_least_squares_apply,
        risks=("a linear or random-feature map cannot extrapolate beyond the span of the training inputs",),
        cards=("random-features-ridge", "pca-net", "dmd-operator"),
    ),
    Move(
        "more_random_features",
        "add random features to the least-squares operator",
        ("operator",),
        applies=lambda d, e: (
            d.operator is not None
            and d.operator.model == "random_features"
            and d.operator.rf_features < 20_000
        ),
        relevance=_more_features_relevance,
        apply=_more_features_apply,
        risks=("with few training functions many features overfit; the ridge penalty has to hold them back",),
        cards=("random-features-ridge",),
    ),
    Move(
        "linear_branch",
        "make the DeepONet branch linear",
        ("operator",),
        applies=lambda d, e: _is_deeponet(d) and d.operator is not None and not d.operator.linear_branch,
        relevance=_linear_branch_relevance,
        apply=lambda d, e: d.evolve(operator={"linear_branch": True}),
        risks=("a linear branch cannot represent any nonlinearity of the operator",),
        cards=("deeponet", "pod-deeponet", "pca-net"),
        synergies=("full_batch_lbfgs", "smooth_activation"),
    ),
    Move(
        "deeponet_capacity",
        "enlarge the DeepONet basis",
        ("operator",),
        applies=lambda d, e: _is_deeponet(d) and d.operator is not None and d.operator.latent < 256,
        relevance=_capacity_relevance,
        apply=_capacity_apply,
        risks=("a larger basis overfits with few training functions",),
        cards=("deeponet", "pod-deeponet"),
    ),
    Move(
        "smooth_activation",
        "use a smooth activation",
        ("operator", "regression"),
        applies=lambda d, e: d.network.activation == "relu",
        relevance=_smooth_activation_relevance,
        apply=_smooth_activation_apply,
        risks=("tanh saturates if inputs are not normalised",),
    ),
    Move(
        "full_batch_lbfgs",
        "refine with full-batch L-BFGS",
        ("operator", "regression"),
        applies=lambda d, e: (  # only a DeepONet among the operators has an L-BFGS phase
            d.optim.lbfgs_fraction == 0 and (d.operator is None or _is_deeponet(d))
        ),
        relevance=_data_lbfgs_relevance,
        apply=_data_lbfgs_apply,
        risks=("full-batch passes are expensive for large data sets", "it can overfit noisy data"),
        cards=("adam-then-lbfgs",),
    ),
    Move(
        "trunk_features",
        "add harmonics to the trunk input",
        ("operator",),
        applies=lambda d, e: _is_deeponet(d) and d.operator is not None and d.operator.trunk_features == 0,
        relevance=_trunk_features_relevance,
        apply=lambda d, e: d.evolve(operator={"trunk_features": 4}),
        risks=("little gain for smooth outputs",),
    ),
    Move(
        "bigger_batch",
        "use bigger batches",
        ("operator",),
        applies=lambda d, e: d.optim.batch_size < 512,
        relevance=_batch_relevance,
        apply=_batch_apply,
        risks=("fewer updates per epoch",),
    ),
    Move(
        "fno_modes",
        "keep more Fourier modes",
        ("operator",),
        applies=lambda d, e: (
            d.operator is not None
            and d.operator.model == "fno"
            and d.operator.fno_modes < (64 if d.operator.fno_dim == 1 else 32)
        ),
        relevance=_fno_modes_relevance,
        apply=_fno_modes_apply,
        risks=("high modes fit noise",),
    ),
    Move(
        "fno_width",
        "widen the FNO",
        ("operator",),
        applies=lambda d, e: (
            d.operator is not None and d.operator.model == "fno" and d.operator.fno_width < 96
        ),
        relevance=_fno_width_relevance,
        apply=_fno_width_apply,
        risks=("slower steps",),
    ),
    # regression
    Move(
        "split_at_jumps",
        "fit each piece between jumps separately",
        ("regression",),
        applies=lambda d, e: (
            bool(e.facts.get("jumps")) and d.regression is not None and not d.regression.split_at_jumps
        ),
        relevance=_split_relevance,
        apply=_split_apply,
        risks=("a wrongly placed split puts a kink where there is none",),
        cards=("discontinuity-domain-splitting", "xpinn", "cpinn"),
    ),
    Move(
        "fourier_features",
        "add Fourier features",
        ("regression",),
        applies=lambda d, e: not d.network.fourier_features,
        relevance=_regression_fourier_relevance,
        apply=_regression_fourier_apply,
        risks=("too large a sigma interpolates the noise",),
        cards=("fourier-features-regression", "random-fourier-features"),
    ),
    Move(
        "weight_decay",
        "regularise with weight decay",
        ("regression", "operator"),
        applies=lambda d, e: d.optim.weight_decay == 0,
        relevance=_weight_decay_relevance,
        apply=_weight_decay_apply,
        risks=("too much decay underfits",),
        cards=("early-stopping-regularisation",),
    ),
    Move(
        "ensemble",
        "average an ensemble",
        ("regression",),
        applies=lambda d, e: d.regression is not None and d.regression.ensemble == 1,
        relevance=_ensemble_relevance,
        apply=_ensemble_apply,
        risks=("each member gets a fraction of the time",),
        cards=("deep-ensembles",),
    ),
    Move(
        "gaussian_process",
        "replace the network by Gaussian-process regression",
        ("regression",),
        applies=_gp_applies,
        relevance=_gp_relevance,
        apply=_gp_apply,
        risks=("the cost grows with the cube of the samples per piece", "a stationary kernel smears jumps"),
        cards=("gaussian-process-regression",),
        synergies=("split_at_jumps",),
    ),
    Move(
        "gp_kernel",
        "change the Gaussian process's kernel",
        ("regression",),
        applies=lambda d, e: is_gaussian_process(d),
        relevance=_gp_kernel_relevance,
        apply=_gp_kernel_apply,
        risks=("the likelihood may prefer the kernel it had",),
        cards=("gaussian-process-regression",),
    ),
    Move(
        "gp_points",
        "fit the Gaussian process on more samples",
        ("regression",),
        applies=lambda d, e: (
            is_gaussian_process(d) and d.regression is not None and d.regression.gp_points < min(
                GP_MAX_POINTS, int(e.facts.get("n_samples") or 0))
        ),
        relevance=_gp_points_relevance,
        apply=_gp_points_apply,
        risks=("each likelihood evaluation costs eight times as much per doubling",),
        cards=("gaussian-process-regression",),
    ),
]

MOVES_BY_ID: dict[str, Move] = {move.id: move for move in MOVES}


# A closed-form model (a least-squares operator, a Gaussian process) has no network or optimiser to tune:
# only these moves change it.
CLOSED_FORM_MOVES = frozenset({"more_random_features", "split_at_jumps", "gp_kernel", "gp_points"})


def is_closed_form(design: Design) -> bool:
    return (design.operator is not None and design.operator.model == "random_features") or is_gaussian_process(design)


def moves_for(kind: str) -> list[Move]:
    return [move for move in MOVES if kind in move.kinds]


def moves_for_card(card: dict[str, Any] | None, kind: str) -> set[str]:
    """The moves a retrieved method card speaks for (by card id, then by words of its title)."""
    if not card:
        return set()
    card_id = str(card.get("id", "")).lower()
    found = {move.id for move in moves_for(kind) if card_id in move.cards}
    if found:
        return found
    title = f"{card.get('title', '')} {card.get('family', '')}".lower()
    keywords = {
        "causal": "causal_weighting",
        "marching": "time_marching",
        "time-stepping": "time_marching",
        "l-bfgs": "lbfgs" if kind == "pinn" else "full_batch_lbfgs",
        "fourier feature": "temporal_features" if kind == "pinn" else "fourier_features",
        "adaptive sampling": "rad_sampling",
        "residual-based": "rad_sampling",
        "hard constraint": "hard_constraints",
        "exact": "hard_constraints",
        "modified mlp": "modified_mlp",
        "annealing": "lr_annealing",
        "self-adaptive": "self_adaptive",
        "float64": "float64_finish",
        "fourier neural operator": "fno",
        "mixture of experts": "mixture_of_experts",
        "ensemble": "ensemble",
        "discontinu": "split_at_jumps",
        "domain decomposition": "split_at_jumps",
        "gaussian process": "gaussian_process",
        "kriging": "gaussian_process",
    }
    return {
        move
        for word, move in keywords.items()
        if word in title and move in MOVES_BY_ID and kind in MOVES_BY_ID[move].kinds
    }

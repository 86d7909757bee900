"""The heuristic roles of the offline team (used when no LLM is configured).

* :func:`root_design` — the vanilla method a campaign starts from (equivalent to the shipped baselines);
* :func:`debate` — proposer and critic argue about a child of a parent (see :mod:`agents.offline.debate`);
* :func:`debug` — reacts to a failed evaluation with a repaired design, or gives up;
* :func:`analyze_result` — a factual report on an evaluated design (no plans).

Every role works from the typed :class:`~agents.offline.design.Design`, so whatever it decides renders to a
runnable candidate.
"""

from __future__ import annotations

import re
from typing import Any

from agents.offline.analysis import DataAnalysis
from agents.offline.debate import Critic, Proposer, debate, design_diff
from agents.offline.design import Design
from agents.offline.models import DebateResult, Message, Proposal, ProposalContext, SiblingSummary
from agents.offline.moves import is_gaussian_process, other_kernel
from agents.offline.signals import describe_curve, summarise_curve

__all__ = [
    "Critic",
    "DebateResult",
    "Message",
    "Proposal",
    "ProposalContext",
    "Proposer",
    "SiblingSummary",
    "analyze_result",
    "debate",
    "debug",
    "root_design",
]


# ------------------------------------------------------------------------------------------------------------
# Root
# ------------------------------------------------------------------------------------------------------------
def root_design(kind: str, analysis: DataAnalysis | None = None) -> Design:
    """The vanilla method for ``kind``, mirroring the baseline candidates in ``baselines/``.

    PINN: a 4x50 tanh MLP, soft constraints with unit weights, the problem's own collocation points in full
    batch, constant-rate Adam. Operator: an unstacked ReLU DeepONet (branch and trunk 2x40, p = 40).
    Regression: a 3x64 ReLU MLP on standardised data, minibatch Adam.
    """
    facts = analysis.facts if analysis is not None else {}
    if kind == "pinn":
        n = int(facts.get("n_interior") or 2000)
        return Design(
            kind="pinn",
            network={"architecture": "mlp", "width": 50, "depth": 4, "activation": "tanh"},
            pinn={"n_collocation": max(16, min(n, 200_000)), "n_constraint": 256},
            optim={"lr": 1e-3, "schedule": "none"},
        )
    if kind == "operator":
        return Design(
            kind="operator",
            network={"architecture": "mlp", "width": 40, "depth": 2, "activation": "relu"},
            operator={
                "model": "deeponet",
                "branch_width": 40,
                "branch_depth": 2,
                "latent": 40,
                "output_bias": True,
                "input_norm": "global",
            },
            optim={"lr": 1e-3, "batch_size": 64, "schedule": "none"},
        )
    if kind == "regression":
        return Design(
            kind="regression",
            network={"architecture": "mlp", "width": 64, "depth": 3, "activation": "relu"},
            regression={},
            optim={"lr": 1e-3, "batch_size": 256, "schedule": "none"},
        )
    raise ValueError(f"unknown problem kind {kind!r}")


# ------------------------------------------------------------------------------------------------------------
# Debugger
# ------------------------------------------------------------------------------------------------------------
_NUMERIC = re.compile(r"nan|non-finite|inf\b|infinite|overflow|floatingpointerror", re.IGNORECASE)
_MEMORY = re.compile(r"out of memory|cannot allocate|can't allocate|bad_alloc|memoryerror", re.IGNORECASE)


def debug(
    design: Design, failure_kind: str | None, reason: str | None = None, traceback: str | None = None
) -> tuple[Design, str] | None:
    """A repaired design and an explanation, or ``None`` when the failure is not one a design change can fix.

    ``failure_kind`` is the sandbox's failure tag (``timeout``, ``memory``, ``crash``, ``invalid_output``,
    ...); ``reason`` and ``traceback`` are read for the specifics.
    """
    kind = (failure_kind or "").lower()
    text = f"{reason or ''}\n{traceback or ''}"
    if kind in ("violation", "contract", "sandbox_error"):
        return None  # not a numerical or resource problem of the design
    if is_gaussian_process(design):
        return _repair_gp(design, kind, text)
    if kind == "memory" or _MEMORY.search(text):
        return _shrink_memory(design)
    if kind in ("timeout", "cpu_time", "killed", "no_output"):
        return _speed_up(design, kind)
    if _NUMERIC.search(text) or kind == "invalid_output" and "shape" not in text.lower():
        return _stabilise(design)
    if kind == "crash":
        return _crash(design, text)
    return None


def _repair_gp(design: Design, kind: str, text: str) -> tuple[Design, str] | None:
    """A Gaussian process fails by cost (cubic in its samples) or by an ill-conditioned covariance; the
    network repairs (learning rate, width, ...) would change nothing it runs."""
    assert design.regression is not None
    points = design.regression.gp_points
    if kind in ("memory", "timeout", "cpu_time", "killed", "no_output") or _MEMORY.search(text):
        if points <= 50:
            return None
        fewer = max(50, points // 2)
        return design.evolve(regression={"gp_points": fewer}), _sentence(
            f"the Gaussian process ran out of {'memory' if kind == 'memory' else 'time'} on {points} samples "
            f"per piece, so I fit it on {fewer}: each covariance factorisation then costs an eighth"
        )
    if _NUMERIC.search(text) or "positive definite" in text.lower() or "cholesky" in text.lower():
        if design.regression.gp_kernel == "matern52":
            return None
        return other_kernel(design), _sentence(
            "the squared-exponential covariance became numerically singular (its eigenvalues decay fastest), "
            "so I switch to the better-conditioned Matern 5/2 kernel"
        )
    return None


def _stabilise(design: Design) -> tuple[Design, str]:
    optim = design.optim
    changes: dict[str, Any] = {"lr": max(1e-5, optim.lr * 0.3), "grad_clip": optim.grad_clip or 1.0}
    notes = [
        (
            f"the loss became non-finite, so I lower the learning rate from {optim.lr:g} to {changes['lr']:g} "
            f"and clip gradients at norm {changes['grad_clip']:g}"
        )
    ]
    if optim.schedule == "none":
        changes.update(schedule="cosine", lr_final_ratio=0.1)
        notes.append("and let the rate decay")
    repaired = design.evolve(optim=changes)
    if design.network.activation == "adaptive_tanh":
        repaired = repaired.evolve(network={"activation": "tanh"})
        notes.append("; adaptive slopes can blow up, so I return to plain tanh")
    if design.pinn is not None and design.pinn.weighting == "self_adaptive":
        repaired = repaired.evolve(pinn={"weighting": "fixed"})
        notes.append("; self-adaptive weights can grow without bound, so I fix them")
    return repaired, _sentence(" ".join(notes))


def _speed_up(design: Design, kind: str) -> tuple[Design, str] | None:
    net = design.network
    changes: dict[str, Any] = {}
    notes = []
    network: dict[str, Any] = {}
    if net.width > 16:
        network["width"] = max(16, int(net.width * 0.6))
    if net.depth > 2:
        network["depth"] = net.depth - 1
    if net.architecture == "moe" and net.n_experts > 2:
        network["n_experts"] = 2
    if network:
        changes["network"] = network
        notes.append(
            f"shrink the network to {network.get('depth', net.depth)}x{network.get('width', net.width)}"
        )
    if design.pinn is not None and design.pinn.n_collocation > 500:
        changes["pinn"] = {"n_collocation": max(500, design.pinn.n_collocation // 2)}
        notes.append(f"halve the collocation points to {changes['pinn']['n_collocation']}")
    if design.optim.float64_finish:
        changes["optim"] = {"float64_finish": False}
        notes.append("drop the float64 phase")
    if design.regression is not None and design.regression.ensemble > 1:
        changes["regression"] = {"ensemble": 1}
        notes.append("train a single network instead of an ensemble")
    if design.operator is not None and design.operator.model == "fno" and design.operator.fno_width > 16:
        changes["operator"] = {"fno_width": max(16, design.operator.fno_width // 2)}
        notes.append("halve the FNO width")
    if not changes:
        return None
    what = "ran out of its time budget" if kind != "no_output" else "produced no output in time"
    return design.evolve(**changes), _sentence(
        f"the candidate {what}, so I "
        + ", ".join(notes)
        + "; every phase also watches the clock, so a cheaper step means it "
        "finishes with margin"
    )


def _shrink_memory(design: Design) -> tuple[Design, str] | None:
    changes: dict[str, Any] = {}
    notes = []
    if design.pinn is not None and design.pinn.n_collocation > 256:
        changes["pinn"] = {"n_collocation": max(256, design.pinn.n_collocation // 4)}
        notes.append(f"cut the collocation points to {changes['pinn']['n_collocation']}")
    if design.optim.batch_size > 16 and design.kind != "pinn":
        changes["optim"] = {"batch_size": max(16, design.optim.batch_size // 4)}
        notes.append(f"cut the batch to {changes['optim']['batch_size']}")
    if design.network.width > 32:
        changes["network"] = {"width": max(32, design.network.width // 2)}
        notes.append(f"halve the width to {changes['network']['width']}")
    if not changes:
        return None
    return design.evolve(**changes), _sentence("the candidate ran out of memory, so I " + ", ".join(notes))


def _crash(design: Design, text: str) -> tuple[Design, str] | None:
    lowered = text.lower()
    if "lbfgs" in lowered and design.optim.lbfgs_fraction:
        return (
            design.evolve(optim={"lbfgs_fraction": 0.0, "float64_finish": False}),
            "The crash came from the L-BFGS phase, so I train with Adam only.",
        )
    if ("fourier" in lowered or "frequencies" in lowered) and design.network.fourier_features:
        return (
            design.evolve(network={"fourier_features": 0}),
            "The crash came from the Fourier-feature layer, so I remove it.",
        )
    if "expert" in lowered and design.network.architecture == "moe":
        return design.evolve(
            network={"architecture": "mlp"}
        ), "The crash came from the gated mixture; I use a plain MLP."
    return None


def _sentence(text: str) -> str:
    text = text.strip().replace(" ;", ";")
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


# ------------------------------------------------------------------------------------------------------------
# Result analyst
# ------------------------------------------------------------------------------------------------------------
def analyze_result(
    design: Design,
    score: float | None,
    parent_score: float | None,
    logs: list[dict[str, Any]] | None,
    failure: str | None = None,
    parent_design: Design | None = None,
) -> str:
    """A factual report on one evaluation: what was tried, the score against the parent, the curve. No plans."""
    lines = [f"Tried: {design.describe()}."]
    if parent_design is not None:
        diff = design_diff(parent_design, design)
        if diff:
            lines.append("Changes from the parent: " + "; ".join(diff) + ".")
    if failure:
        lines.append(f"The evaluation failed: {failure}.")
    elif score is None:
        lines.append("The evaluation produced no score.")
    else:
        text = f"Relative L2 error {score:.3g}"
        if parent_score is not None and parent_score > 0 and score > 0:
            factor = parent_score / score
            if factor >= 1.05:
                text += f", {factor:.3g}x better than the parent ({parent_score:.3g})"
            elif factor <= 1 / 1.05:
                text += f", {score / parent_score:.3g}x worse than the parent ({parent_score:.3g})"
            else:
                text += f", on par with the parent ({parent_score:.3g})"
        lines.append(text + ".")
    summary = summarise_curve(list(logs or []))
    lines.append(describe_curve(summary))
    return " ".join(lines)

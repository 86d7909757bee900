"""Named reference designs, built from the root by the same moves the proposer uses.

They exist for benchmarking (``benchmarks/offline_designs.py``) and tests: each entry is a short recipe of
moves applied to :func:`root_design`, followed by the critic's budget check, so the catalogue measures what
the proposer can actually reach rather than hand-tuned one-offs.
"""

from __future__ import annotations

from agents.offline.analysis import DataAnalysis
from agents.offline.debate import Critic
from agents.offline.design import Design
from agents.offline.models import ProposalContext
from agents.offline.moves import MOVES_BY_ID, Evidence
from agents.offline.signals import CurveSummary

RECIPES: dict[str, dict[str, tuple[str, ...]]] = {
    "pinn": {
        "exact": ("hard_constraints",),
        "exact_lbfgs": ("hard_constraints", "lbfgs"),
        "transport": ("hard_constraints", "temporal_features", "lbfgs"),
        "marching": ("hard_constraints", "time_marching", "lbfgs"),
        "marching_modified": ("hard_constraints", "time_marching", "lbfgs", "modified_mlp"),
        "causal": ("hard_constraints", "causal_weighting", "lbfgs"),
        "layer": ("hard_constraints", "rad_sampling", "lbfgs"),
        "oscillatory": ("hard_constraints", "input_fourier", "lbfgs"),
        "balanced": ("lr_annealing", "lbfgs"),
    },
    "operator": {
        "least_squares": ("least_squares",),
        "linear_branch": ("linear_branch", "full_batch_lbfgs"),
        "fno": ("fno",),
        "deeponet_smooth": ("smooth_activation", "lr_schedule"),
        "deeponet_lbfgs": ("smooth_activation", "full_batch_lbfgs"),
        "deeponet_large": ("smooth_activation", "deeponet_capacity", "lr_schedule"),
    },
    "regression": {
        "split": ("split_at_jumps",),
        "split_fourier": ("split_at_jumps", "fourier_features"),
        "split_fourier_lbfgs": ("split_at_jumps", "fourier_features", "full_batch_lbfgs"),
        "fourier_tanh": ("fourier_features", "smooth_activation", "lr_schedule"),
        "moe": ("mixture_of_experts", "smooth_activation"),
    },
}


def build(
    kind: str, analysis: DataAnalysis, moves: tuple[str, ...], budget_seconds: float | None = None
) -> Design:
    """Apply ``moves`` (those that apply) to the root design, then the critic's budget check."""
    from agents.offline.roles import root_design

    root = design = root_design(kind, analysis)
    budget = float(budget_seconds or analysis.facts.get("budget_seconds") or 60.0)
    evidence = Evidence(
        kind=kind,
        facts=dict(analysis.facts),
        budget_seconds=budget,
        parent=design,
        parent_score=None,
        curve=CurveSummary(),
    )
    for move_id in moves:
        move = MOVES_BY_ID[move_id]
        if move.applies(design, evidence):
            design = move.apply(design, evidence)
    context = ProposalContext(
        problem_name=str(analysis.facts.get("problem") or "problem"),
        kind=kind,
        budget_seconds=budget,
        data_analysis=analysis,
        parent_design=root,
    )
    design, _, _ = Critic(context).feasibility(design, list(moves))
    return design


def catalogue(kind: str, analysis: DataAnalysis) -> dict[str, Design]:
    """Every recipe of ``kind`` built for the problem described by ``analysis`` (duplicates removed)."""
    designs: dict[str, Design] = {}
    seen: set[str] = set()
    for name, moves in RECIPES.get(kind, {}).items():
        design = build(kind, analysis, moves)
        if design.key() not in seen:
            seen.add(design.key())
            designs[name] = design
    return designs

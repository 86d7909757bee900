"""The heuristic roles: root, debate, debugger and result analyst."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from agents.offline.design import Design
from agents.offline.render import render_candidate
from agents.offline.roles import ProposalContext, SiblingSummary, analyze_result, debate, debug, root_design


def context(name: str, analyses, specs, **overrides) -> ProposalContext:
    spec = specs[name]
    analysis = analyses[name]
    fields = {
        "problem_name": name,
        "kind": spec.kind,
        "description": spec.description,
        "pde": spec.pde,
        "budget_seconds": spec.budget.wall_seconds,
        "data_analysis": analysis,
        "parent_design": root_design(spec.kind, analysis),
        "parent_score": 0.9,
        "seed": 0,
    }
    fields.update(overrides)
    return ProposalContext(**fields)


def test_root_designs_mirror_the_baselines(analyses) -> None:
    pinn = root_design("pinn", analyses["burgers1d"])
    assert (pinn.network.width, pinn.network.depth, pinn.network.activation) == (50, 4, "tanh")
    assert pinn.pinn.n_collocation == 10_000 and not (pinn.pinn.exact_initial or pinn.pinn.exact_dirichlet)
    assert pinn.optim.lbfgs_fraction == 0 and pinn.optim.schedule == "none"
    operator = root_design("operator", analyses["antiderivative"])
    assert operator.operator.model == "deeponet" and operator.operator.latent == 40
    regression = root_design("regression", analyses["discontinuous_fit1d"])
    assert regression.network.activation == "relu" and not regression.regression.split_at_jumps
    for design in (pinn, operator, regression):
        compile(render_candidate(design), "root", "exec")


def test_debate_has_the_configured_rounds(analyses, specs) -> None:
    result = debate(context("allen_cahn1d", analyses, specs), rounds=4, rng=np.random.default_rng(0))
    shape = [(m.round, m.role, m.kind) for m in result.messages]
    assert shape == [
        (1, "proposer", "reasoning"),
        (1, "critic", "critique"),
        (2, "proposer", "reasoning"),
        (2, "critic", "critique"),
        (3, "proposer", "plan"),
        (3, "critic", "feasibility"),
        (4, "proposer", "proposal"),
    ]
    short = debate(context("allen_cahn1d", analyses, specs), rounds=2, rng=np.random.default_rng(0))
    assert [m.kind for m in short.messages] == ["plan", "feasibility", "proposal"]
    assert [m.kind for m in debate(context("allen_cahn1d", analyses, specs), rounds=1).messages] == [
        "proposal"
    ]
    alone = debate(context("allen_cahn1d", analyses, specs), rounds=0, rng=np.random.default_rng(0))
    assert [m.kind for m in alone.messages] == ["proposal"]
    assert alone.deliberation.verdict == "no_critic" and not alone.deliberation.changed
    assert alone.deliberation.amendments in ([], ["distinct"])  # no critic: no L-BFGS forced, no shrink
    with pytest.raises(ValueError):
        debate(context("allen_cahn1d", analyses, specs), rounds=-1)


@pytest.mark.parametrize(
    "name",
    ["convection1d", "allen_cahn1d", "burgers1d", "helmholtz2d", "discontinuous_fit1d", "antiderivative"],
)
def test_debate_text_reads_like_reasoning(name: str, analyses, specs) -> None:
    result = debate(context(name, analyses, specs), rng=np.random.default_rng(1))
    for message in result.messages:
        text = message.text
        assert len(text) > 40 and text[0].isupper()
        assert not re.search(r"\{'|\w+=\w+\(|<[a-z]", text), text  # no dict or object dumps
    final = result.final
    assert (
        final.design.kind == specs[name].kind
        and final.design.key() != root_design(specs[name].kind, analyses[name]).key()
    )
    assert final.title and final.rationale and final.changes
    compile(render_candidate(final.design, final.title, final.rationale), name, "exec")


def test_debate_is_deterministic_given_the_seed(analyses, specs) -> None:
    first = debate(context("burgers1d", analyses, specs), rng=np.random.default_rng(5))
    second = debate(context("burgers1d", analyses, specs), rng=np.random.default_rng(5))
    assert first.model_dump() == second.model_dump()
    seen = {
        debate(context("burgers1d", analyses, specs), rng=np.random.default_rng(s)).final.design.key()
        for s in range(8)
    }
    assert len(seen) >= 2  # different seeds explore differently


def test_convection_root_proposal_targets_transport(analyses, specs) -> None:
    final = debate(context("convection1d", analyses, specs), rng=np.random.default_rng(0)).final
    design = final.design
    assert design.pinn.exact_initial and design.pinn.exact_periodic
    assert design.network.fourier_on == "time" and 10 <= design.network.fourier_sigma <= 40
    assert design.optim.lbfgs_fraction >= 0.5


def test_allen_cahn_root_proposal_is_causal(analyses, specs) -> None:
    design = debate(context("allen_cahn1d", analyses, specs), rng=np.random.default_rng(0)).final.design
    assert design.pinn.time_windows > 1 or design.pinn.causal_eps > 0
    assert design.optim.lbfgs_fraction > 0


def test_failed_sibling_change_is_not_repeated(analyses, specs) -> None:
    base = context("convection1d", analyses, specs)
    first = debate(base, rng=np.random.default_rng(0)).final
    failed = SiblingSummary(
        summary=first.design.describe(),
        score=None,
        status="failed",
        key=first.design.key(),
        changes=first.changes,
    )
    second = debate(
        context("convection1d", analyses, specs, siblings=[failed]), rng=np.random.default_rng(0)
    ).final
    assert second.design.key() != first.design.key()
    assert set(second.changes) != set(first.changes)


def test_card_steers_the_proposal(analyses, specs) -> None:
    card = {
        "id": "causal-training",
        "title": "Causal training of PINNs",
        "family": "pinn-training",
        "failure_modes": ["causality violation"],
        "body": "...",
    }
    result = debate(context("burgers1d", analyses, specs, card=card), rng=np.random.default_rng(0))
    assert "causal_weighting" in result.final.changes
    assert "card" in result.messages[0].text


def test_critic_shrinks_a_plan_that_does_not_fit(analyses, specs) -> None:
    big = root_design("pinn", analyses["burgers1d"]).evolve(
        network={"width": 200, "depth": 6}, pinn={"n_collocation": 20_000}
    )
    result = debate(context("burgers1d", analyses, specs, parent_design=big), rng=np.random.default_rng(0))
    feasibility = next(m for m in result.messages if m.kind == "feasibility")
    assert "shrink" in feasibility.text
    assert result.final.design.network.width < 200 or result.final.design.pinn.n_collocation < 20_000


def test_debug_reactions() -> None:
    design = Design(
        kind="pinn",
        network={"activation": "adaptive_tanh"},
        pinn={"weighting": "self_adaptive"},
        optim={"lr": 1e-3},
    )
    fixed, note = debug(design, "crash", "FloatingPointError: non-finite loss at Adam step 12", None)
    assert fixed.optim.lr < 1e-3 and fixed.optim.grad_clip > 0 and fixed.network.activation == "tanh"
    assert "learning rate" in note
    faster, note = debug(design, "timeout", "exceeded the wall-clock budget", None)
    assert (
        faster.network.width < design.network.width and faster.pinn.n_collocation < design.pinn.n_collocation
    )
    smaller, note = debug(design, "memory", "killed: out of memory", None)
    assert smaller.pinn.n_collocation < design.pinn.n_collocation and "memory" in note
    lbfgs = Design(kind="pinn", optim={"lbfgs_fraction": 0.5})
    repaired, _ = debug(lbfgs, "crash", "RuntimeError", "File ..., in lbfgs\n  optimiser.step(closure)")
    assert repaired.optim.lbfgs_fraction == 0
    assert debug(design, "violation", "tried to open a socket", None) is None
    assert debug(design, "crash", "ValueError: something unrelated", "Traceback ...") is None
    tiny = Design(kind="regression", network={"width": 16, "depth": 1})
    assert debug(tiny, "timeout", "too slow", None) is None  # nothing left to shrink


def test_result_analysis_is_factual() -> None:
    design = Design(kind="pinn")
    plateau = [{"step": s, "t": s / 10, "loss": 1.0 / (1 + s) if s < 50 else 0.02} for s in range(0, 200, 10)]
    text = analyze_result(design, 0.05, 0.5, plateau, None)
    assert "10x better than the parent" in text and "plateaued" in text
    improving = [{"step": s, "t": s, "loss": 10 ** (-s / 50)} for s in range(0, 200, 10)]
    assert "still falling" in analyze_result(design, 0.5, 0.05, improving, None)
    assert "10x worse" in analyze_result(design, 0.5, 0.05, improving, None)
    diverged = [{"step": s, "t": s, "loss": v} for s, v in enumerate([1, 0.1, 0.01, 5, 80])]
    assert "diverged" in analyze_result(design, None, 0.05, diverged, None)
    failed = analyze_result(design, None, 0.05, [], "timeout: exceeded the wall-clock budget")
    assert "failed" in failed and "should" not in failed and "next" not in failed


def test_curve_summary_ignores_jumps_when_a_window_opens() -> None:
    from agents.offline.signals import summarise_curve

    logs = []
    for stage, horizon in enumerate((0.2, 0.4, 0.6)):
        for k in range(5):
            logs.append(
                {
                    "step": 10 * len(logs),
                    "t": len(logs),
                    "phase": 1,
                    "horizon": horizon,
                    "loss": 10.0 ** (-k) * (stage + 1),
                }
            )
    summary = summarise_curve(logs)
    assert summary.spikes == 0 and not summary.diverged
    logs.append({"step": 999, "t": 99, "phase": 1, "horizon": 0.6, "loss": 50.0})
    assert summarise_curve(logs).diverged


def test_a_fine_spatial_scale_in_an_evolution_problem_gets_anisotropic_input_features() -> None:
    """Ten periods along x, one along y, smooth in t: the input-Fourier move is relevant although the problem is
    time-dependent, and its scales follow each axis (x fine, y and t coarse) instead of one isotropic sigma."""
    from agents.offline.analysis import analyze_data
    from agents.offline.catalogue import build
    from agents.offline.moves import MOVES_BY_ID, Evidence
    from agents.offline.signals import CurveSummary

    spec = {
        "name": "user_multiscale",
        "kind": "pinn",
        "budget": {"wall_seconds": 60},
        "pde": {
            "variables": {"x": [0, 1], "y": [0, 1], "t": [0, 2]},
            "equation": "u_t = 0.001*u_xx + 0.1*u_yy",
            "conditions": [{"where": "t == 0", "value": "sin(20*pi*x)*sin(pi*y)"}, {"where": "boundary", "value": "0"}],
        },
    }
    analysis = analyze_data(spec, {}, {})
    design = build("pinn", analysis, ("input_fourier",))
    sigma = design.network.fourier_axis_sigma
    assert design.network.fourier_on == "inputs" and sigma is not None and len(sigma) == 3
    assert sigma[0] == pytest.approx(0.5 * 20 * math.pi * 0.5, rel=0.01)  # k_x times the half-length, halved
    assert sigma[1] < 1.0 and sigma[2] == 0.5  # y: one half-period; t: no oscillation
    evidence = Evidence(kind="pinn", facts=dict(analysis.facts), budget_seconds=60.0, parent=design,
                        parent_score=None, curve=CurveSummary())
    score, reasons = MOVES_BY_ID["input_fourier"].relevance(design, evidence)
    assert score >= 2.0 and any("periods across the domain" in r for r in reasons)


def test_small_noisy_data_with_a_jump_get_a_split_gaussian_process(analyses, specs) -> None:
    """96 noisy samples with a jump: the proposer reads the sample count and the jump off the analysis and
    pairs the split with Gaussian-process pieces, on most seeds; the GP design carries no network knobs."""
    finals = [debate(context("discontinuous_fit1d", analyses, specs, seed=seed)).final for seed in range(6)]
    paired = [f for f in finals if {"split_at_jumps", "gaussian_process"} <= set(f.changes)]
    assert len(paired) >= 4, [f.changes for f in finals]
    design = paired[0].design
    assert design.regression.model == "gaussian_process" and design.regression.split_at_jumps
    assert design.network == Design(kind="regression").network  # reset: GP designs grown anywhere coincide
    source = render_candidate(design)
    assert "class GaussianProcess" in source and "class MLP" not in source


def test_a_gaussian_process_parent_gets_only_moves_that_change_it(analyses, specs) -> None:
    root = root_design("regression", analyses["discontinuous_fit1d"])
    gp = root.evolve(regression={"model": "gaussian_process", "split_at_jumps": True})
    for seed in range(4):
        result = debate(context("discontinuous_fit1d", analyses, specs, parent_design=gp, seed=seed))
        final = result.final
        assert set(final.changes) <= {"gp_kernel", "gp_points", "distinct"}, final.changes
        assert final.design.regression.model == "gaussian_process"
        assert final.design.key() != gp.key()  # the kernel changed: no learning rate to retune
        assert "learning rate" not in final.title.lower()


def test_debug_repairs_a_gaussian_process_by_its_own_knobs() -> None:
    gp = Design(kind="regression", regression={"model": "gaussian_process", "gp_points": 1200})
    slower, why = debug(gp, "timeout")
    assert slower.regression.gp_points == 600 and "600" in why
    assert debug(gp, "memory")[0].regression.gp_points == 600
    matern, why = debug(gp, "crash", "FloatingPointError: the GP covariance is not positive definite")
    assert matern.regression.gp_kernel == "matern52" and "Matern" in why
    assert debug(matern, "crash", "torch.linalg.cholesky failed") is None  # nothing left to try
    assert debug(gp.evolve(regression={"gp_points": 50}), "timeout") is None
    assert debug(gp, "crash", "ValueError: shapes do not match") is None


def test_a_move_without_numbers_that_would_repeat_a_design_trained_elsewhere_is_not_proposed(analyses, specs):
    """Designs trained anywhere in the tree are known to the proposer: a move with no numbers to vary that
    would give one of them again is no option (the novelty check would skip the child untrained)."""
    from agents.offline.moves import MOVES_BY_ID

    analysis = analyses["discontinuous_fit1d"]
    split = root_design("regression", analysis).evolve(regression={"split_at_jumps": True})
    base = context("discontinuous_fit1d", analyses, specs, parent_design=split)
    gp = MOVES_BY_ID["gaussian_process"].apply(split, _evidence(base))
    free = [debate(base.model_copy(update={"seed": seed})).final for seed in range(6)]
    assert any("gaussian_process" in f.changes for f in free)
    known = [debate(base.model_copy(update={"seed": seed, "evaluated": [gp.key()]})).final for seed in range(6)]
    assert not any("gaussian_process" in f.changes for f in known), [f.changes for f in known]
    assert all(f.design.key() != gp.key() for f in known)


def _evidence(ctx):
    from agents.offline.debate import _evidence as evidence

    return evidence(ctx)

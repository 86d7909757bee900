"""The debate decides: the critic's evidence from the tree can switch the move, drop a change or ask for
other numbers, and the knob sampler learns from the campaign's scored children."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agents.offline.knobs import KNOBS, knobs_for, set_knobs
from agents.offline.models import PastChild
from agents.offline.moves import MOVES_BY_ID
from agents.offline.roles import ProposalContext, SiblingSummary, debate, root_design
from agents.offline.tuning import FAILED_OBJECTIVE, KnobSampler, Trial, contrast, objective


def context(name: str, analyses, specs, **overrides) -> ProposalContext:
    spec, analysis = specs[name], analyses[name]
    fields = {
        "problem_name": name, "kind": spec.kind, "description": spec.description, "pde": spec.pde,
        "budget_seconds": spec.budget.wall_seconds, "data_analysis": analysis,
        "parent_design": root_design(spec.kind, analysis), "parent_score": 0.9, "seed": 0,
    }
    fields.update(overrides)
    return ProposalContext(**fields)


def test_a_failed_sibling_makes_the_proposer_switch_and_the_prerequisite_is_not_forced(analyses, specs) -> None:
    alone = debate(context("convection1d", analyses, specs), rounds=4)
    first = alone.deliberation.opening[0]
    failed = SiblingSummary(summary="x", status="failed", changes=[first], node_id=7,
                            failure="Traceback (most recent call last):\n  ...\nRuntimeError: out of memory")
    result = debate(context("convection1d", analyses, specs, siblings=[failed]), rounds=4)
    d = result.deliberation
    assert d.opening == alone.deliberation.opening  # the proposer opened with the same plan ...
    assert d.verdict == "switched" and d.changed and first not in d.final  # ... and the critique changed it
    assert first not in result.final.changes  # not re-added as a prerequisite either
    critique = next(m.text for m in result.messages if m.kind == "critique")
    assert "#7" in critique and "RuntimeError: out of memory" in critique
    answer = [m.text for m in result.messages if m.role == "proposer" and m.kind == "reasoning"][1]
    assert "withdraw" in answer and MOVES_BY_ID[d.final[0]].title in answer


def test_a_sibling_without_gain_gets_the_same_move_with_other_numbers_or_another_move(analyses, specs) -> None:
    alone = debate(context("discontinuous_fit1d", analyses, specs), rounds=4)
    opening = alone.deliberation.opening
    flat = SiblingSummary(summary="x", status="succeeded", score=0.95, changes=opening, node_id=3,
                          knobs=alone.deliberation.knobs)
    result = debate(context("discontinuous_fit1d", analyses, specs, siblings=[flat]), rounds=4)
    d = result.deliberation
    assert d.objections and any("#3" in o and "no better" in o for o in d.objections)
    assert d.changed
    if d.verdict == "renumbered":
        same = [m for m in d.final if m in opening and knobs_for(m)]
        assert same and any(d.knobs[k.param(m)] != alone.deliberation.knobs.get(k.param(m))
                            for m in same for k in knobs_for(m))
    else:
        assert sorted(d.final) != sorted(opening)


def test_the_analysis_objection_names_the_move_it_prefers(analyses, specs) -> None:
    ctx = context("allen_cahn1d", analyses, specs,
                  parent_analysis="The error grows with time: it concentrates at late times.")
    result = debate(ctx, rounds=4)
    d = result.deliberation
    marching = {"time_marching", "causal_weighting"}
    assert set(d.final) & marching or any("late times" in o for o in d.objections)


def test_without_critic_nothing_is_objected_and_the_same_plan_comes_out(analyses, specs) -> None:
    failed = SiblingSummary(summary="x", status="failed", changes=["hard_constraints"], node_id=7)
    a = debate(context("convection1d", analyses, specs, siblings=[failed]), rounds=0)
    assert a.deliberation.verdict == "no_critic" and a.deliberation.objections == []
    assert a.deliberation.final == a.deliberation.opening


def test_knob_values_are_clipped_and_applied(analyses) -> None:
    design = root_design("pinn", analyses["convection1d"])
    wider = set_knobs(MOVES_BY_ID["widen"].apply(design, None), "widen", {"width": 100.0})  # clipped to 2.0
    assert wider.network.width == min(512, round(int(design.network.width * 1.5) * 2.0))
    assert set_knobs(design, "widen", {"nonsense": 3.0}) == design
    lbfgs = set_knobs(design, "lbfgs", {"fraction": 0.5})
    assert lbfgs.optim.lbfgs_fraction == 0.5
    for move_id, knobs in KNOBS.items():
        assert move_id in MOVES_BY_ID, move_id
        for knob in knobs:
            assert knob.low < knob.high and (knob.absolute or knob.low < 1.0 < knob.high)


def test_objective_counts_failures_as_ten_times_worse() -> None:
    assert objective(0.1, 1.0, "succeeded") == pytest.approx(-1.0)
    assert objective(None, 1.0, "failed") == FAILED_OBJECTIVE
    assert objective(0.5, None, "succeeded") is None and objective(0.1, 1.0, "skipped_duplicate") is None


def test_tpe_learns_which_values_worked_and_is_reproducible() -> None:
    # on this made-up campaign wider networks helped and narrower ones hurt
    trials = [Trial({"widen.width": v}, math.log10(1.2 / v)) for v in (0.65, 0.8, 1.0, 1.3, 1.7, 1.9)]
    picks = [KnobSampler("tpe", seed, trials).suggest("widen")["width"] for seed in range(30)]
    assert np.median(picks) > 1.3
    assert KnobSampler("tpe", 5, trials).suggest("widen") == KnobSampler("tpe", 5, trials).suggest("widen")
    assert KnobSampler("fixed", 5, trials).suggest("widen") == {}
    assert KnobSampler("tpe", 5, []).suggest("widen") == {}  # first use in a campaign: the move's own rule
    assert KnobSampler("tpe", 5, trials).suggest("hard_constraints") == {}  # a move without numbers
    with pytest.raises(ValueError):
        KnobSampler("random", 0, [])


def test_contrast_moves_away_from_what_was_tried() -> None:
    for tried in (0.7, 1.0, 1.9):
        value = contrast("widen", [{"widen.width": tried}])["width"]
        assert abs(math.log(value / tried)) > math.log(1.3), (tried, value)
    assert contrast("widen", [{"widen.width": 1.9}])["width"] < 1.9


def test_the_sampler_uses_the_history_of_the_campaign(analyses, specs) -> None:
    history = [PastChild(changes=["lbfgs"], knobs={"lbfgs.fraction": f}, score=s, parent_score=1.0)
               for f, s in ((0.35, 0.9), (0.5, 0.5), (0.9, 0.05), (0.93, 0.04))]
    seen = 0
    for seed in range(12):
        ctx = context("burgers1d", analyses, specs, history=history, seed=seed)
        tpe, fixed = debate(ctx, rounds=4), debate(ctx.model_copy(update={"sampler": "fixed"}), rounds=4)
        assert fixed.deliberation.sampled == []
        if "lbfgs" not in tpe.final.changes:
            continue
        seen += 1
        assert "lbfgs" in tpe.deliberation.sampled
        assert tpe.deliberation.knobs["lbfgs.fraction"] != fixed.deliberation.knobs["lbfgs.fraction"]
        assert tpe.final.design.optim.lbfgs_fraction == pytest.approx(tpe.deliberation.knobs["lbfgs.fraction"])
    assert seen >= 1


def test_a_move_that_never_beat_its_parent_elsewhere_in_the_tree_is_objected_to(analyses, specs) -> None:
    alone = debate(context("discontinuous_fit1d", analyses, specs), rounds=4)
    first = alone.deliberation.opening[0]
    failures = [PastChild(changes=[first], score=s, parent_score=0.1) for s in (0.2, 0.3, 0.15, 0.4)]
    result = debate(context("discontinuous_fit1d", analyses, specs, history=failures), rounds=4)
    d = result.deliberation
    assert any("4 times elsewhere in this tree and never beat its parent" in o and "1.5x" in o for o in d.objections)
    assert d.changed and first not in d.final
    # One success among the tries is enough to keep the move in play: no such objection then.
    mixed = failures + [PastChild(changes=[first], score=0.05, parent_score=0.1)]
    kept = debate(context("discontinuous_fit1d", analyses, specs, history=mixed), rounds=4).deliberation
    assert not any("elsewhere in this tree" in o for o in kept.objections)

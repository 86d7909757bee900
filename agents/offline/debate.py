"""The proposer/critic debate of the offline team.

The proposer ranks the moves of :mod:`agents.offline.moves` by the evidence (data analysis, the parent's
score and curve, its result analysis, the retrieved card) and by what siblings and uncles already tried,
then picks one or two with controlled randomness. The critic answers with the known risks of the choice,
what the tree says about it, and a feasibility check against the wall budget, amending the plan where the
numbers do not add up (shrinking a network that would get too few steps, adding the L-BFGS phase a stiff
problem needs, and so on). Default: two reasoning rounds, one plan round, one final proposal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.offline.design import Design
from agents.offline.models import DebateResult, Message, Proposal, ProposalContext, SiblingSummary
from agents.offline.moves import (
    CLOSED_FORM_MOVES,
    MOVES_BY_ID,
    Evidence,
    Move,
    is_closed_form,
    moves_for,
    moves_for_card,
)
from agents.offline.signals import curve_from_text, describe_curve, estimated_steps, summarise_curve

# Phrases of Design.describe() that reveal a move, used to tell what a sibling changed.
MARKERS: dict[str, tuple[str, ...]] = {
    "hard_constraints": ("exact periodic", "exact initial", "exact dirichlet"),
    "temporal_features": ("fourier features of time",),
    "lbfgs": ("l-bfgs",),
    "full_batch_lbfgs": ("l-bfgs",),
    "time_marching": ("time marching",),
    "causal_weighting": ("causal weighting",),
    "rad_sampling": ("rad resampling",),
    "modified_mlp": ("modified mlp",),
    "input_fourier": ("fourier features on the inputs",),
    "fourier_features": ("fourier features on the inputs",),
    "sine_activation": (" sin,", " sin;", " sin ("),
    "lr_annealing": ("annealing",),
    "self_adaptive": ("self-adaptive",),
    "float64_finish": ("float64",),
    "lr_schedule": ("cosine decay", "exponential decay"),
    "adaptive_tanh": ("adaptive_tanh",),
    "mixture_of_experts": ("mixture of experts",),
    "fno": ("fno",),
    "split_at_jumps": ("piecewise",),
    "ensemble": ("ensemble",),
    "weight_decay": ("weight decay",),
    "trunk_features": ("trunk harmonics",),
}

# Keywords of a free-text result analysis (ours or an LLM's) and the moves they argue for.
TEXT_HINTS: tuple[tuple[tuple[str, ...], tuple[str, ...], str], ...] = (
    (
        ("late time", "later times", "grows in time", "error grows with time"),
        ("time_marching", "causal_weighting"),
        "the error concentrates at late times",
    ),
    (
        ("high-frequency", "high frequency", "oscillation is missed", "spectral bias"),
        ("temporal_features", "input_fourier", "fourier_features"),
        "the error is high-frequency",
    ),
    (
        ("boundary error", "initial condition error", "boundary condition is violated", "at the boundary"),
        ("hard_constraints", "lr_annealing"),
        "the conditions at the boundary are not met",
    ),
    (("overfit", "noise"), ("weight_decay", "ensemble"), "the fit chases noise"),
    (("jump", "discontinu"), ("split_at_jumps", "mixture_of_experts"), "the error sits at a discontinuity"),
    (
        ("too few steps", "ran out of time", "still improving", "still falling"),
        ("speed_up", "lbfgs"),
        "training was cut short by the budget",
    ),
    (("diverg", "unstable", "spike"), ("lower_lr", "lr_schedule"), "training was unstable"),
)


@dataclass
class Option:
    move: Move
    score: float
    reasons: list[str]
    notes: list[str] = field(default_factory=list)
    noisy: float = 0.0


# ------------------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------------------
def _evidence(context: ProposalContext) -> Evidence:
    text = (context.parent_analysis or "").lower()
    curve = summarise_curve(context.parent_logs) if context.parent_logs else curve_from_text(text)
    return Evidence(
        kind=context.kind,
        facts=dict(context.data_analysis.facts),
        budget_seconds=context.budget_seconds,
        parent=context.parent_design,
        parent_score=context.parent_score,
        curve=curve,
        parent_text=text,
        card_moves=moves_for_card(context.card, context.kind),
    )


def tried_moves(entry: SiblingSummary, parent: Design) -> set[str]:
    """The moves a sibling/uncle applied on top of ``parent`` (its own list, or read off its summary)."""
    if entry.changes:
        return {c for c in entry.changes if c in MOVES_BY_ID}
    text = (entry.design.describe() if entry.design is not None else entry.summary).lower()
    base = parent.describe().lower()
    return {
        move
        for move, phrases in MARKERS.items()
        if any(p in text for p in phrases) and not any(p in base for p in phrases)
    }


def _ok(entry: SiblingSummary) -> bool:
    return entry.status in ("ok", "succeeded", "success", "scored") and entry.score is not None


def _fmt(score: float | None) -> str:
    return "no score" if score is None else f"{score:.3g}"


def design_diff(before: Design, after: Design) -> list[str]:
    """``section.field: old -> new`` for every changed field."""
    old, new = _flatten(before.canonical()), _flatten(after.canonical())
    lines = []
    for key in new:
        if old.get(key) != new[key]:
            lines.append(f"{key}: {old.get(key)!r} -> {new[key]!r}")
    return lines


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


# ------------------------------------------------------------------------------------------------------------
# Proposer
# ------------------------------------------------------------------------------------------------------------
class Proposer:
    """Ranks the moves and argues for one or two of them."""

    def __init__(self, context: ProposalContext, rng: np.random.Generator) -> None:
        self.context = context
        self.rng = rng
        self.evidence = _evidence(context)
        self.parent = context.parent_design
        self.options = self._rank()
        self.choice: list[Option] = []

    # --- ranking ------------------------------------------------------------------------------------------
    def _rank(self) -> list[Option]:
        e, parent = self.evidence, self.parent
        sibling_moves = [(entry, tried_moves(entry, parent)) for entry in self.context.siblings]
        uncle_moves = [(entry, tried_moves(entry, parent)) for entry in self.context.uncles]
        hints = [(moves, why) for words, moves, why in TEXT_HINTS if any(w in e.parent_text for w in words)]
        options = []
        for move in moves_for(self.context.kind):
            if is_closed_form(parent) and move.id not in CLOSED_FORM_MOVES:
                continue
            if not move.applies(parent, e):
                continue
            score, reasons = move.relevance(parent, e)
            reasons = list(reasons)
            notes: list[str] = []
            if move.id in e.card_moves:
                score += 1.5
                notes.append(
                    f"the retrieved card '{self.context.card.get('title', self.context.card.get('id'))}' "
                    "describes this method"
                    if self.context.card
                    else ""
                )
            for moves, why in hints:
                if move.id in moves:
                    score += 0.8
                    reasons.append(f"the parent's result analysis says {why}")
            for entry, moves in sibling_moves:
                if move.id not in moves:
                    continue
                if not _ok(entry):
                    score -= 2.0
                    notes.append(f"a sibling already tried it and failed ({entry.status})")
                elif self.context.parent_score is not None and entry.score >= self.context.parent_score:
                    score -= 1.5
                    notes.append(
                        f"a sibling already tried it and got {_fmt(entry.score)}, no better than the parent"
                    )
                else:
                    score -= 0.7
                    notes.append(f"a sibling is already exploring it ({_fmt(entry.score)})")
            for entry, moves in uncle_moves:
                if move.id not in moves:
                    continue
                if not _ok(entry):
                    score -= 0.8
                    notes.append("an uncle that tried it failed")
                elif self.context.parent_score is not None and entry.score < self.context.parent_score:
                    score += 0.3
                    notes.append(f"it helped an uncle ({_fmt(entry.score)})")
            if not reasons:  # ranked by the card or the tree alone: the messages still need an argument
                reasons.append(
                    "the retrieved method card recommends it"
                    if move.id in e.card_moves
                    else "it is a cheap probe of a direction this branch has not tried"
                )
            options.append(Option(move, score, reasons, [n for n in notes if n]))
        for option in options:  # controlled exploration: a little noise, deterministic given the rng
            option.noisy = option.score + float(self.rng.normal(0.0, 0.35))
        return sorted(options, key=lambda o: o.noisy, reverse=True)

    def choose(self) -> list[Option]:
        """The best option, plus a complementary second one when the evidence supports it."""
        if not self.options:
            return []
        first = self.options[0]
        choice = [first]
        partners = [
            o
            for o in self.options[1:]
            if o.score >= 1.2
            and o.move.id not in ("speed_up", "widen")
            and o.move.id not in first.move.requires  # the critic adds prerequisites anyway
            and not {o.move.id, first.move.id} <= {"lbfgs", "float64_finish"}
        ]
        partners = [o for o in partners if self._compatible(first, o)]
        preferred = [
            o for o in partners if o.move.id in first.move.synergies or first.move.id in o.move.synergies
        ]
        pool = preferred or partners
        if pool and self.rng.random() < (0.9 if preferred else 0.6):
            choice.append(pool[0])
        self.choice = choice
        return choice

    def _compatible(self, first: Option, second: Option) -> bool:
        """Whether ``second`` still applies (and validates) on top of ``first``."""
        try:
            after = first.move.apply(self.parent, self.evidence)
            if not second.move.applies(after, self.evidence):
                return False
            second.move.apply(after, self.evidence)
        except ValueError:  # pydantic's ValidationError is a ValueError
            return False
        return True

    # --- messages -----------------------------------------------------------------------------------------
    def opening(self) -> str:
        c, e = self.context, self.evidence
        lines = []
        if c.parent_score is not None:
            lines.append(f"The parent ({self.parent.describe()}) scored {c.parent_score:.3g} relative L2.")
        else:
            lines.append(
                f"The parent ({self.parent.describe()}) has no score"
                + (f": it failed with {c.parent_failure}." if c.parent_failure else ".")
            )
        if c.parent_logs:
            lines.append(describe_curve(e.curve))
        elif c.parent_analysis:
            findings = [
                s for s in _sentences(c.parent_analysis) if not s.startswith(("Tried", "Changes from"))
            ]
            if findings:
                lines.append("Its result analysis says: " + " ".join(findings[:3]))
        facts = _key_facts(c)
        if facts:
            lines.append("What the data analysis tells me: " + facts)
        if not self.choice:
            lines.append("I see no change the evidence supports; I will retune the learning rate.")
            return " ".join(lines)
        first = self.choice[0]
        lines.append(f"My main proposal is to {first.move.title}: {'; '.join(first.reasons)}.")
        if first.notes:
            lines.append("Noted: " + "; ".join(first.notes) + ".")
        if len(self.choice) > 1:
            second = self.choice[1]
            lines.append(
                f"I would pair it with a second change, to {second.move.title}, because {second.reasons[0]}."
            )
        others = [o for o in self.options if o not in self.choice][:2]
        if others:
            lines.append(
                "I also considered "
                + " and ".join(
                    f"'{o.move.title}' ({_strength(o.score)}{', ' + o.notes[0] if o.notes else ''})"
                    for o in others
                )
                + ", but the evidence for them is weaker here."
            )
        return " ".join(lines)

    def respond(self, objections: list[str], drop_second: bool) -> str:
        if not self.choice:
            return "Without a supported move I keep the plan to retune the learning rate."
        parts = []
        if objections:
            parts.append("Taking the critique on board: " + objections[0].rstrip(".") + ".")
        if drop_second and len(self.choice) > 1:
            dropped = self.choice.pop()
            parts.append(f"I drop '{dropped.move.title}' so that the result is attributable to one idea.")
        first = self.choice[0]
        if first.score >= 1.0:
            parts.append(
                f"I keep '{first.move.title}' as the core of the proposal; it addresses the most specific "
                "weakness the evidence shows."
            )
        else:
            parts.append(
                f"The evidence for any change is thin here; '{first.move.title}' is an exploratory probe, cheap "
                "to evaluate, and its outcome tells us whether this direction is worth more."
            )
        if len(self.choice) > 1:
            parts.append(
                f"'{self.choice[1].move.title}' stays as a complement: the two address different parts of "
                "the failure."
            )
        return " ".join(parts)

    def plan(self) -> tuple[Design, str]:
        design = self.parent
        applied = []
        for option in self.choice:
            design = option.move.apply(design, self.evidence)
            applied.append(option.move.title)
        if not self.choice and is_closed_form(design):
            assert design.operator is not None
            design = design.evolve(operator={"ridge": min(1e3, max(1e-12, design.operator.ridge * 10))})
            applied.append("strengthen the ridge penalty tenfold")
        elif not self.choice:
            design = design.evolve(optim={"lr": max(2e-5, design.optim.lr * 0.5)})
            applied.append("halve the learning rate")
        diff = design_diff(self.parent, design)
        text = (
            "Concretely: " + "; ".join(applied) + ". Field by field: " + "; ".join(diff) + "."
            if diff
            else "The plan leaves the design unchanged."
        )
        return design, text


# ------------------------------------------------------------------------------------------------------------
# Critic
# ------------------------------------------------------------------------------------------------------------
class Critic:
    """Argues back: risks, what the tree already showed, and whether the plan fits the budget."""

    def __init__(self, context: ProposalContext) -> None:
        self.context = context
        self.evidence = _evidence(context)

    def critique(self, choice: list[Option]) -> tuple[str, list[str], bool]:
        """Text, objections (first is the main one), and whether the second change should go."""
        if not choice:
            return "With nothing specific to try, a learning-rate retune is at least cheap.", [], False
        objections: list[str] = []
        parts = []
        first = choice[0]
        if first.move.risks:
            parts.append(f"A known failure mode of '{first.move.title}': {first.move.risks[0]}.")
        if first.move.id == "temporal_features" and self.context.parent_design.optim.lbfgs_fraction == 0:
            objection = (
                "features alone will not do it with Adam in this budget; the residual landscape stays "
                "ill-conditioned, so the plan needs a quasi-Newton phase"
            )
            objections.append(objection)
            parts.append(f"I doubt {objection}.")
        if first.notes:
            parts.append("The tree already has information on it: " + "; ".join(first.notes) + ".")
        drop_second = False
        if len(choice) > 1:
            second = choice[1]
            if second.score < 1.0 or second.score < first.score - 2.0:
                drop_second = True
                objections.append(f"'{second.move.title}' is much less supported than '{first.move.title}'")
                parts.append(
                    f"'{second.move.title}' is weakly supported by comparison; changing two things at once "
                    "also makes the outcome harder to attribute."
                )
            elif second.move.risks:
                parts.append(f"On '{second.move.title}': {second.move.risks[0]}.")
        curve = self.evidence.curve
        if curve.steps:
            spent = f" in {curve.seconds:.0f} s" if curve.seconds else ""
            parts.append(
                f"Keep in mind the parent ran {curve.steps} steps{spent}; anything that makes a step more "
                "expensive costs convergence."
            )
        if not objections and not parts:
            parts.append("I have no objection to the direction.")
        return " ".join(parts), objections, drop_second

    def second_look(self, choice: list[Option]) -> str:
        if not choice:
            return "Agreed."
        first = choice[0]
        extra = first.move.risks[1] if len(first.move.risks) > 1 else None
        text = f"Agreed on '{first.move.title}'."
        if extra:
            text += f" One more thing to watch: {extra}."
        if self.evidence.parent_score is not None and self.evidence.parent_score > 0.5:
            text += (
                " The parent is far from the solution, so a bold change is justified; a small tweak would "
                "not move a score of this size."
            )
        return text

    def _prerequisites(
        self, design: Design, chosen: list[str], notes: list[str], amendments: list[str]
    ) -> Design:
        """Add what the chosen moves need to work (e.g. marching needs an exact initial condition)."""
        e = self.evidence
        for move_id in chosen:
            for needed in MOVES_BY_ID[move_id].requires:
                if needed in chosen or needed in amendments:
                    continue
                move = MOVES_BY_ID[needed]
                if not move.applies(design, e):
                    continue
                if needed == "hard_constraints":
                    design = move.apply(design, e)
                    notes.append(
                        f"For '{MOVES_BY_ID[move_id].title}' to work the initial state must be right: with "
                        "a penalised initial condition every later time inherits its error, so I impose the "
                        "conditions exactly as well."
                    )
                    amendments.append(needed)
                elif needed == "lbfgs" and (e.oscillatory or e.stiff):
                    design = move.apply(design, e)
                    notes.append(
                        f"For '{MOVES_BY_ID[move_id].title}' to pay off the optimiser must converge, and "
                        "in this oscillatory/stiff regime Adam does not get there within the budget; I add an "
                        "L-BFGS phase for most of the time, on fresh points every round so that it cannot "
                        "overfit one point set."
                    )
                    amendments.append(needed)
        return design

    def feasibility(self, design: Design, chosen: list[str]) -> tuple[Design, str, list[str]]:
        """Check the plan against the budget and known pitfalls; return the amended design and the notes."""
        c, e = self.context, self.evidence
        facts = dict(c.data_analysis.facts)
        notes: list[str] = []
        amendments: list[str] = []

        if design.kind == "pinn":
            assert design.pinn is not None
            design = self._prerequisites(design, chosen, notes, amendments)
            adam_steps = estimated_steps(design, facts, c.budget_seconds)
            if design.optim.lbfgs_fraction == 0 and "lbfgs" not in amendments and adam_steps < 20_000:
                design = MOVES_BY_ID["lbfgs"].apply(design, e)
                notes.append(
                    f"Adam would get only ~{adam_steps} steps here, while PINN losses typically need tens of "
                    f"thousands; I add an L-BFGS phase for {design.optim.lbfgs_fraction:.0%} of the time, on "
                    "a fresh point set every round so that it cannot overfit one set."
                )
                amendments.append("lbfgs")
            if design.pinn.time_windows > 1 and design.optim.lbfgs_fraction == 0:
                design = design.evolve(optim={"lbfgs_fraction": 0.9, "lbfgs_resample": True})
                notes.append(
                    "Each time window has to converge before the next opens; with Adam a window gets too "
                    "few steps, so I add L-BFGS rounds."
                )
                amendments.append("lbfgs")
            target = 1500 if design.optim.lbfgs_fraction else 3000
            steps = estimated_steps(design, facts, c.budget_seconds)
            notes.append(
                f"Cost estimate: about {1000 * c.budget_seconds * 0.9 / max(steps, 1):.0f} ms per loss "
                f"evaluation, so ~{steps} evaluations in the {c.budget_seconds:g} s budget on one thread "
                f"(I want at least {target})."
            )
            shrunk = False
            while steps < target and (design.pinn.n_collocation > 2000 or design.network.width > 32):
                if design.pinn.n_collocation > 2000:
                    design = design.evolve(pinn={"n_collocation": max(2000, design.pinn.n_collocation // 2)})
                else:
                    design = design.evolve(
                        network={
                            "width": max(32, int(design.network.width * 0.7)),
                            "depth": min(design.network.depth, 3),
                        }
                    )
                steps = estimated_steps(design, facts, c.budget_seconds)
                shrunk = True
            if shrunk:
                notes.append(
                    f"That is too few, so I shrink the plan to a {design.network.depth}x{design.network.width} "
                    f"network on {design.pinn.n_collocation} points (~{steps} evaluations)."
                )
                amendments.append("shrink")
            if design.optim.float64_finish and steps < 2000:
                design = design.evolve(optim={"float64_finish": False})
                notes.append("A float64 phase would eat a third of too few steps; I drop it.")
                amendments.append("no_float64")
        elif is_closed_form(design):
            notes.append(
                "The least-squares fit is closed form and takes well under a second: no budget concern."
            )
        else:
            steps = estimated_steps(design, facts, c.budget_seconds)
            notes.append(f"Cost estimate: ~{steps} optimiser steps in the {c.budget_seconds:g} s budget.")
            if design.kind == "regression" and design.regression is not None:
                if design.regression.ensemble > 1 and steps < 1500:
                    design = design.evolve(regression={"ensemble": 1})
                    notes.append("Too few steps to split between ensemble members; I keep a single network.")
                    amendments.append("no_ensemble")
                if design.network.fourier_features and design.network.width > 64:
                    design = design.evolve(network={"width": 64})
                    notes.append("With Fourier features a 64-wide network is plenty for a few dozen samples.")
                    amendments.append("narrow")
            if design.kind == "operator" and steps < 800:
                design = design.evolve(optim={"batch_size": max(16, design.optim.batch_size // 2)})
                notes.append("I halve the batch to get more updates.")
                amendments.append("smaller_batch")

        known = {c.parent_design.key()} | {s.key for s in c.siblings + c.uncles if s.key}
        if design.key() in known:
            notes.append(
                "This exact design was already evaluated, so this child would add nothing; I nudge the "
                "learning rate to make it a distinct experiment."
            )
            design = design.evolve(optim={"lr": design.optim.lr * 0.7})
            amendments.append("distinct")
        if not amendments:
            notes.append("The plan fits the budget as it stands.")
        return design, " ".join(notes), amendments


# ------------------------------------------------------------------------------------------------------------
# The debate
# ------------------------------------------------------------------------------------------------------------
def debate(
    context: ProposalContext, rounds: int = 4, rng: np.random.Generator | int | None = None
) -> DebateResult:
    """Run the proposer/critic debate and return its messages and final proposal.

    ``rounds`` >= 1: ``rounds - 2`` reasoning rounds (proposer, then critic), one plan round with the
    critic's feasibility check, and one final proposal (fewer rounds drop the reasoning first, then the plan).
    ``rng`` (a Generator or a seed; default: the context's seed and iteration) makes the choice reproducible.
    """
    if rounds < 1:
        raise ValueError("a debate needs at least one round")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng if rng is not None else [context.seed, context.iteration])
    proposer, critic = Proposer(context, rng), Critic(context)
    choice = proposer.choose()
    messages: list[Message] = []
    reasoning_rounds = max(0, rounds - 2)
    number = 0
    for index in range(reasoning_rounds):
        number += 1
        if index == 0:
            messages.append(Message(role="proposer", round=number, kind="reasoning", text=proposer.opening()))
            text, objections, drop = critic.critique(choice)
            messages.append(Message(role="critic", round=number, kind="critique", text=text))
        else:
            messages.append(
                Message(
                    role="proposer", round=number, kind="reasoning", text=proposer.respond(objections, drop)
                )
            )
            choice = proposer.choice
            messages.append(
                Message(role="critic", round=number, kind="critique", text=critic.second_look(choice))
            )
    design, plan_text = proposer.plan()
    amendments: list[str] = []
    feasibility = ""
    if rounds >= 2:
        number += 1
        messages.append(Message(role="proposer", round=number, kind="plan", text=plan_text))
        design, feasibility, amendments = critic.feasibility(design, [o.move.id for o in choice])
        messages.append(Message(role="critic", round=number, kind="feasibility", text=feasibility))
    else:
        design, feasibility, amendments = critic.feasibility(design, [o.move.id for o in choice])
    number += 1
    final = _final_proposal(context, proposer, design, amendments, feasibility)
    messages.append(
        Message(
            role="proposer",
            round=number,
            kind="proposal",
            text=f"{final.title}. {final.rationale} Final design: {design.describe()}.",
        )
    )
    return DebateResult(messages=messages, final=final)


def _final_proposal(
    context: ProposalContext, proposer: Proposer, design: Design, amendments: list[str], feasibility: str
) -> Proposal:
    choice = proposer.choice
    if choice:
        titles = [o.move.title for o in choice]
        if "lbfgs" in amendments and not any(o.move.id == "lbfgs" for o in choice):
            titles.append("finish with L-BFGS")
        title = _capitalise(" + ".join(titles))
        why = " ".join(f"{_capitalise(o.move.title)}: {o.reasons[0]}." for o in choice)
    else:
        title, why = (
            "Retune the learning rate",
            "No move is supported by the evidence; a smaller step is cheap.",
        )
    rationale = why
    if amendments:
        rationale += " Amended after the feasibility check: " + _first_sentences(
            feasibility.split("Cost estimate")[0] or feasibility, 2
        )
    if context.parent_score is not None:
        rationale += f" Parent score: {context.parent_score:.3g}."
    changes = [o.move.id for o in choice] + [a for a in amendments if a not in {o.move.id for o in choice}]
    return Proposal(design=design, title=title, rationale=rationale.strip(), changes=changes)


def _key_facts(context: ProposalContext) -> str:
    report = context.data_analysis.report
    section = (
        report.split("## What the parameters imply")[-1] if "## What the parameters imply" in report else ""
    )
    bullets = [line[2:].strip() for line in section.splitlines() if line.startswith("- ")]
    if not bullets:
        bullets = [line[2:].strip() for line in report.splitlines() if line.startswith("- ")][:3]
    return " ".join(bullets[:3])


def _sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z])", text.replace("\n", " ").strip())
    return [p.strip() for p in parts if p.strip()]


def _first_sentences(text: str, count: int) -> str:
    sentences = [s.strip() for s in text.replace("\n", " ").split(". ") if s.strip()]
    out = ". ".join(sentences[:count])
    return out if out.endswith(".") else out + "."


def _strength(score: float) -> str:
    return "strong case" if score >= 2 else "moderate case" if score >= 1 else "weak case"


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


__all__ = ["Critic", "Proposer", "debate", "design_diff", "tried_moves"]

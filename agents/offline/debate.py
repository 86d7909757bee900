"""The proposer/critic debate of the offline team.

The proposer ranks the moves of :mod:`agents.offline.moves` by the evidence (data analysis, the parent's
score and curve, its result analysis, the retrieved card) and by what siblings and uncles already tried,
then picks one or two with controlled randomness. The critic answers with the known risks of the choice,
what the tree says about it, and a feasibility check against the wall budget, amending the plan where the
numbers do not add up (shrinking a network that would get too few steps, adding the L-BFGS phase a stiff
problem needs, and so on). Default: two reasoning rounds, one plan round, one final proposal.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.offline.design import Design
from agents.offline.knobs import knobs_for, set_knobs
from agents.offline.models import (
    DebateResult,
    Deliberation,
    Message,
    PastChild,
    Proposal,
    ProposalContext,
    SiblingSummary,
)
from agents.offline.moves import (
    CLOSED_FORM_MOVES,
    MOVES_BY_ID,
    Evidence,
    Move,
    is_closed_form,
    is_gaussian_process,
    moves_for,
    moves_for_card,
    other_kernel,
)
from agents.offline.signals import curve_from_text, describe_curve, estimated_steps, summarise_curve
from agents.offline.tuning import KnobSampler, Trial, contrast, objective, recorded_values

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


@dataclass
class Objection:
    """One point of the critic's case against a chosen move, with the evidence it rests on.

    ``weight`` is how much it lowers the move's standing when the proposer weighs it; ``prefer`` names the
    move the evidence points to instead; ``numbers`` says the objection is met by the same move with other
    numbers; ``drop`` asks for the change to be left out altogether."""

    against: str
    text: str
    weight: float
    evidence: str  # tree / failure / cost / analysis / card / attribution
    prefer: str | None = None
    numbers: bool = False
    drop: bool = False


def _trials(history: list[PastChild]) -> list[Trial]:
    """Earlier children as sampler trials: the knobs they used and their improvement over the parent."""
    out = []
    for child in history:
        value = objective(child.score, child.parent_score, child.status)
        if value is not None and child.knobs:
            out.append(Trial(params=dict(child.knobs), objective=value))
    return out


def _first_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    errors = [line for line in lines if re.match(r"^[A-Za-z_.]*(Error|Exception|Timeout)\b", line)]
    line = (errors or lines or ["no reason recorded"])[-1 if errors else 0]
    return line if len(line) <= 160 else line[:157] + "..."


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
        self.sampler = KnobSampler(context.sampler, context.seed, _trials(context.history))
        self.renumber: set[str] = set()  # moves the critic wants tried with other numbers
        self.knobs: dict[str, dict[str, float]] = {}
        self.sampled: list[str] = []

    # --- ranking ------------------------------------------------------------------------------------------
    def _rank(self) -> list[Option]:
        e, parent = self.evidence, self.parent
        uncle_moves = [(entry, tried_moves(entry, parent)) for entry in self.context.uncles]
        hints = [(moves, why) for words, moves, why in TEXT_HINTS if any(w in e.parent_text for w in words)]
        options = []
        evaluated = set(self.context.evaluated)
        for move in moves_for(self.context.kind):
            if is_closed_form(parent) and move.id not in CLOSED_FORM_MOVES:
                continue
            if not move.applies(parent, e):
                continue
            if evaluated and not knobs_for(move.id) and self._reproduces(move, evaluated):
                continue  # no numbers to vary, and the design it gives was trained elsewhere in the tree
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
            for entry, moves in uncle_moves:  # what went wrong in the tree is the critic's case to make
                if move.id in moves and _ok(entry) and self.context.parent_score is not None \
                        and entry.score < self.context.parent_score:
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

    def _reproduces(self, move: Move, evaluated: set[str]) -> bool:
        try:
            return move.apply(self.parent, self.evidence).key() in evaluated
        except ValueError:
            return False

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

    def _partner(self, first: Option, excluded: set[str]) -> Option | None:
        """The best-supported complement of ``first`` (deterministic: used when re-planning after a critique)."""
        pool = [
            o
            for o in self.options
            if o is not first
            and o.move.id not in excluded
            and o.score >= 1.2
            and o.move.id not in ("speed_up", "widen")
            and o.move.id not in first.move.requires
            and not {o.move.id, first.move.id} <= {"lbfgs", "float64_finish"}
            and self._compatible(first, o)
        ]
        synergic = [o for o in pool if o.move.id in first.move.synergies or first.move.id in o.move.synergies]
        return (synergic or [None])[0]

    def answer(self, objections: list[Objection]) -> tuple[str, str]:
        """Weigh the critique and re-plan: (message, verdict). The verdict is ``switched`` (another move
        now has the better case), ``narrowed`` (a change dropped), ``renumbered`` (same move, other
        numbers) or ``accepted`` (the case for the plan stands, and the message says why)."""
        if not self.choice:
            return f"Without a supported move I keep the plan to {self._fallback()}.", "accepted"
        penalty: dict[str, float] = {}
        support: dict[str, float] = {}
        for obj in objections:
            penalty[obj.against] = penalty.get(obj.against, 0.0) + obj.weight
            if obj.prefer:
                support[obj.prefer] = support.get(obj.prefer, 0.0) + 0.5 * obj.weight

        def standing(option: Option) -> float:
            return option.noisy - penalty.get(option.move.id, 0.0) + support.get(option.move.id, 0.0)

        first = self.choice[0]
        against_first = [o for o in objections if o.against == first.move.id]
        best = max(self.options, key=standing)
        parts: list[str] = []
        if best is not first and standing(best) > standing(first):
            why = "; ".join(o.text for o in against_first[:2]) or "the critique weakens it most"
            parts.append(
                f"The critic is right: {why}. I withdraw '{first.move.title}' "
                f"(standing {standing(first):.1f} after the critique) and switch to '{best.move.title}' "
                f"({standing(best):.1f}), because {best.reasons[0]}."
            )
            tried = {o.against for o in objections if o.drop or o.weight >= 1.5}
            partner = self._partner(best, tried | {first.move.id})
            self.choice = [best] + ([partner] if partner is not None else [])
            if partner is not None:
                parts.append(f"I pair it with '{partner.move.title}': {partner.reasons[0]}.")
            return " ".join(parts), "switched"
        verdict = "accepted"
        dropped = [o for o in objections if o.drop and len(self.choice) > 1 and o.against == self.choice[1].move.id]
        if dropped:
            removed = self.choice.pop()
            parts.append(f"Agreed, I drop '{removed.move.title}': {dropped[0].text}.")
            verdict = "narrowed"
        renumber = [o for o in objections if o.numbers and o.against in {c.move.id for c in self.choice}]
        renumber = [o for o in renumber if knobs_for(o.against)]
        if renumber:
            for obj in renumber:
                self.renumber.add(obj.against)
            parts.append(
                f"I keep '{first.move.title}' but not its numbers: {renumber[0].text}, so this child tries "
                "other values of "
                + ", ".join(k.name for k in knobs_for(renumber[0].against))
                + " and the tree learns which work."
            )
            verdict = "renumbered" if verdict == "accepted" else verdict
        if verdict == "accepted":
            if against_first:
                runner = max((o for o in self.options if o is not first), key=standing, default=None)
                rival = f"'{runner.move.title}' at {standing(runner):.1f}" if runner else "no other move"
                parts.append(
                    f"I weighed the objection ({against_first[0].text}) but keep '{first.move.title}': "
                    f"its case ({standing(first):.1f} after the critique) is at least as strong as the best "
                    f"alternative ({rival}) because {first.reasons[0]}."
                )
            elif first.score >= 1.0:
                parts.append(
                    f"I keep '{first.move.title}' as the core of the proposal; it addresses the most specific "
                    "weakness the evidence shows."
                )
            else:
                parts.append(
                    f"The evidence for any change is thin here; '{first.move.title}' is an exploratory probe, "
                    "cheap to evaluate, and its outcome tells us whether this direction is worth more."
                )
        return " ".join(parts), verdict

    def choose_numbers(self) -> None:
        """The numbers of each chosen move: the sampler's proposal from the tree, or the move's rule; where
        the critic asked for other numbers and the proposal repeats one already tried, values away from
        those tried."""
        self.knobs, self.sampled = {}, []
        relatives = self.context.siblings + self.context.uncles
        for option in self.choice:
            move_id = option.move.id
            values = self.sampler.suggest(move_id)
            if values:
                self.sampled.append(move_id)
            if move_id in self.renumber:
                tried = [r.knobs for r in relatives if move_id in r.changes and r.knobs]
                if not values or any(_close(values, t, move_id) for t in tried or [{}]):
                    values = contrast(move_id, tried)
            self.knobs[move_id] = values

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
            lines.append(f"I see no change the evidence supports; I will {self._fallback()}.")
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

    def _fallback(self) -> str:
        """What ``plan`` does when no move is chosen, in words."""
        if is_closed_form(self.parent):
            return "strengthen the ridge penalty" if self.parent.operator is not None else "try the other kernel"
        return "retune the learning rate"

    def plan(self) -> tuple[Design, str]:
        design = self.parent
        applied = []
        for option in self.choice:
            design = option.move.apply(design, self.evidence)
            values = self.knobs.get(option.move.id) or {}
            design = set_knobs(design, option.move.id, values)
            numbers = ", ".join(f"{k} x{v:.2g}" if not _absolute(option.move.id, k) else f"{k} {v:.2g}"
                                for k, v in values.items())
            applied.append(option.move.title + (f" ({numbers})" if numbers else ""))
        if not self.choice and is_closed_form(design):  # no learning rate: its own smallest change
            design, what = _nudged(design)
            applied.append(what)
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
        self.vetoed: set[str] = set()  # moves the tree showed failing here: not re-added as prerequisites
        self.sampler: KnobSampler | None = None  # the proposer's, so amendments get learned numbers too
        self.knobs: dict[str, dict[str, float]] = {}  # values used for the amendments' knobs

    def review(self, choice: list[Option], options: list[Option]) -> tuple[str, list[Objection]]:
        """The critique: the known risks, and objections from the evidence that the proposer must answer.

        The evidence: siblings and uncles that applied the same move (and how they scored or why they
        failed), the cost of the plan against the budget, the parent's result analysis, and the retrieved
        card. Each objection lowers the move's standing and may name the move the evidence prefers."""
        if not choice:
            return "With nothing specific to try, a learning-rate retune is at least cheap.", []
        objections: list[Objection] = []
        for option in choice:
            objections += self._tree_objections(option)
            objections += self._history_objections(option)
        first = choice[0]
        objections += self._cost_objections(first, options)
        objections += self._analysis_objections(first, options)
        objections += self._card_objections(first, options)
        if len(choice) > 1:
            second = choice[1]
            if second.score < 1.0 or second.score < first.score - 2.0:
                objections.append(
                    Objection(
                        second.move.id,
                        f"'{second.move.title}' is much less supported than '{first.move.title}', and two "
                        "changes at once make the outcome hard to attribute",
                        0.0,
                        "attribution",
                        drop=True,
                    )
                )
        self.vetoed |= {o.against for o in objections if o.evidence == "failure" and o.weight >= 2.0}
        parts = []
        if first.move.risks:
            parts.append(f"A known failure mode of '{first.move.title}': {first.move.risks[0]}.")
        if objections:
            parts.append(
                "I object: "
                + " ".join(f"({i}) {_capitalise(o.text)}." for i, o in enumerate(objections, 1))
            )
            alternatives = [o.prefer for o in objections if o.prefer]
            if alternatives:
                parts.append(f"The evidence points to '{MOVES_BY_ID[alternatives[0]].title}' instead.")
            heavy = sum(o.weight for o in objections if o.against == first.move.id)
            if heavy >= 1.5:
                parts.append(f"As it stands I would reject '{first.move.title}'.")
        elif len(choice) > 1 and choice[1].move.risks:
            parts.append(f"On '{choice[1].move.title}': {choice[1].move.risks[0]}.")
        if not parts:
            parts.append("I have no objection to the direction.")
        return " ".join(parts), objections

    def _tree_objections(self, option: Option) -> list[Objection]:
        """What siblings (same parent) and uncles (the parent's siblings) showed about this move: the
        proposer argues from the problem, the critic from what the tree already tried."""
        c, move = self.context, option.move
        tunable = bool(knobs_for(move.id))
        out: list[Objection] = []
        for entry, kin in [(s, "sibling") for s in c.siblings] + [(u, "uncle") for u in c.uncles]:
            if move.id not in tried_moves(entry, c.parent_design):
                continue
            label = f"{kin} #{entry.node_id}" if entry.node_id is not None else f"a {kin}"
            sibling = kin == "sibling"
            if entry.status == "failed":
                out.append(Objection(
                    move.id, f"{label} applied '{move.title}' and failed ({_first_line(entry.failure)})",
                    2.0 if sibling else 0.8, "failure"))
            elif entry.status == "skipped_duplicate":
                out.append(Objection(move.id, f"{label} proposed the same design already", 1.0, "tree",
                                     numbers=tunable))
            elif not _ok(entry) or not sibling:
                continue
            elif c.parent_score is not None and entry.score >= c.parent_score:
                out.append(Objection(
                    move.id, f"{label} applied '{move.title}' and got {_fmt(entry.score)}, no better than the "
                    f"parent's {_fmt(c.parent_score)}", 1.5, "tree", numbers=tunable,
                    drop=not tunable))  # no other numbers to try: as a second change, leave it out
            else:
                out.append(Objection(
                    move.id, f"{label} already explores '{move.title}' ({_fmt(entry.score)}); a second child "
                    "with the same change tells us little", 0.7, "tree", numbers=tunable))
        return out

    def _history_objections(self, option: Option) -> list[Objection]:
        """Children anywhere in the tree (earlier iterations) that applied this move. Siblings and uncles
        say what the move did here; a move that never beat its parent in two or more tries on other
        branches is evidence too, and without it the same failing move keeps coming back."""
        move = option.move
        tries = [h for h in self.context.history if move.id in h.changes]
        if len(tries) < 2:
            return []
        scored = [h for h in tries if h.status == "succeeded" and h.score is not None and h.parent_score]
        if any(h.score < h.parent_score for h in scored):
            return []
        ratios = [h.score / h.parent_score for h in scored if math.isfinite(h.score / h.parent_score)]
        detail = f" (its best child had {min(ratios):.2g}x its parent's error)" if ratios else ""
        return [Objection(move.id, f"'{move.title}' was applied {len(tries)} times elsewhere in this tree and "
                          f"never beat its parent{detail}", min(3.0, 0.75 * len(tries)), "tree")]

    def _cost_objections(self, first: Option, options: list[Option]) -> list[Objection]:
        """A move that makes each step so much dearer that the plan cannot converge in the budget."""
        c, e = self.context, self.evidence
        facts = dict(c.data_analysis.facts)
        if is_closed_form(c.parent_design):
            return []
        try:
            after = first.move.apply(c.parent_design, e)
        except ValueError:
            return []
        if is_closed_form(after):  # no optimiser steps to run short of
            return []
        before_steps = estimated_steps(c.parent_design, facts, c.budget_seconds)
        after_steps = estimated_steps(after, facts, c.budget_seconds)
        floor = 1500 if after.optim.lbfgs_fraction else 3000
        if after_steps >= floor or after_steps >= 0.7 * before_steps:
            return []
        cheaper = [
            o
            for o in options
            if o is not first
            and o.score >= first.score - 1.5
            and _steps_after(o, c.parent_design, e, facts, c.budget_seconds) >= max(floor, after_steps * 1.5)
        ]
        return [
            Objection(
                first.move.id,
                f"'{first.move.title}' cuts the budget to ~{after_steps} loss evaluations (the parent had "
                f"~{before_steps}; a PINN or network fit wants at least {floor})",
                1.0,
                "cost",
                prefer=cheaper[0].move.id if cheaper else None,
                numbers=bool(knobs_for(first.move.id)),
            )
        ]

    def _analysis_objections(self, first: Option, options: list[Option]) -> list[Objection]:
        """The parent's result analysis names a weakness that the plan does not address but another move does."""
        text = self.evidence.parent_text
        out = []
        for words, moves, why in TEXT_HINTS:
            if not any(w in text for w in words) or first.move.id in moves:
                continue
            fits = [o for o in options if o.move.id in moves and o is not first]
            if fits:
                out.append(
                    Objection(
                        first.move.id,
                        f"the parent's result analysis says {why}, which '{first.move.title}' does not address",
                        0.9,
                        "analysis",
                        prefer=fits[0].move.id,
                    )
                )
                break
        return out

    def _card_objections(self, first: Option, options: list[Option]) -> list[Objection]:
        """The retrieved card describes an applicable method that nobody in this family has tried."""
        e, c = self.evidence, self.context
        if not e.card_moves or first.move.id in e.card_moves:
            return []
        tried = set().union(*(tried_moves(r, c.parent_design) for r in c.siblings)) if c.siblings else set()
        fits = [o for o in options if o.move.id in e.card_moves and o.move.id not in tried]
        if not fits:
            return []
        title = (c.card or {}).get("title") or (c.card or {}).get("id") or "the retrieved card"
        return [
            Objection(
                first.move.id,
                f"the retrieved card '{title}' describes '{fits[0].move.title}', which this branch has not tried",
                0.5,
                "card",
                prefer=fits[0].move.id,
            )
        ]

    def second_look(self, choice: list[Option], verdict: str = "accepted") -> str:
        if not choice:
            return "Agreed."
        first = choice[0]
        extra = first.move.risks[1] if len(first.move.risks) > 1 else None
        text = {
            "switched": f"The switch to '{first.move.title}' answers my objection.",
            "renumbered": f"Trying '{first.move.title}' with other numbers is a fair test of it.",
            "narrowed": f"With '{first.move.title}' alone the outcome is attributable.",
        }.get(verdict, f"Agreed on '{first.move.title}'.")
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
                if needed in self.vetoed:
                    notes.append(
                        f"'{MOVES_BY_ID[move_id].title}' usually wants '{MOVES_BY_ID[needed].title}' as well, "
                        "but a sibling failed with it, so I leave it out."
                    )
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
                    design = self._tuned("lbfgs", move.apply(design, e))
                    notes.append(
                        f"For '{MOVES_BY_ID[move_id].title}' to pay off the optimiser must converge, and "
                        "in this oscillatory/stiff regime Adam does not get there within the budget; I add an "
                        "L-BFGS phase for most of the time, on fresh points every round so that it cannot "
                        "overfit one point set."
                    )
                    amendments.append(needed)
        return design

    def _tuned(self, move_id: str, design: Design) -> Design:
        """An amendment's numbers: the sampler's proposal from the tree where it has one."""
        values = self.sampler.suggest(move_id) if self.sampler is not None else {}
        self.knobs[move_id] = values
        return set_knobs(design, move_id, values)

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
                design = self._tuned("lbfgs", MOVES_BY_ID["lbfgs"].apply(design, e))
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
            if facts.get("budget_steps"):
                notes.append(f"The budget is {steps} loss evaluations whatever they cost (I want at least {target}).")
            else:
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
        elif is_closed_form(design) and design.operator is not None:
            notes.append(
                "The least-squares fit is closed form and takes well under a second: no budget concern."
            )
        elif is_closed_form(design):
            assert design.regression is not None
            n = min(int(facts.get("n_samples") or 0), design.regression.gp_points)
            notes.append(
                f"The Gaussian process factorises a {n}x{n} covariance per likelihood evaluation "
                f"(~{n ** 3 / 3e9:.2g} GFlop); a few dozen evaluations per start fit the budget."
            )
        else:
            steps = estimated_steps(design, facts, c.budget_seconds)
            notes.append(f"Cost estimate: ~{steps} optimiser steps in the "
                         + ("step budget." if facts.get("budget_steps") else f"{c.budget_seconds:g} s budget."))
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
            nudged, what = _nudged(design)
            if nudged.key() not in known:
                notes.append(
                    "This exact design was already evaluated, so this child would add nothing; I "
                    f"{what} to make it a distinct experiment."
                )
                design = nudged
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
    """Run the proposer/critic debate and return its messages, final proposal and what it decided.

    ``rounds`` >= 3: the opening and the critique, the proposer's answer (which may switch the move, drop
    a change or ask for other numbers) and the critic's second look, ``rounds - 4`` further exchanges, one
    plan round with the critic's feasibility check, and the final proposal. ``rounds`` 2: plan and
    feasibility only; 1: the final proposal after a silent feasibility check; 0: the proposer alone (no
    critic at all), the ablation of the debate. ``rng`` (a Generator or a seed; default: the context's
    seed and iteration) makes the choice reproducible.
    """
    if rounds < 0:
        raise ValueError("a debate cannot have a negative number of rounds")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng if rng is not None else [context.seed, context.iteration])
    proposer, critic = Proposer(context, rng), Critic(context)
    critic.sampler = proposer.sampler
    choice = proposer.choose()
    opening = [o.move.id for o in choice]
    messages: list[Message] = []
    verdict, objections = ("no_critic" if rounds == 0 else "accepted"), []
    reasoning_rounds = max(0, rounds - 2)
    number = 0
    for index in range(reasoning_rounds):
        number += 1
        if index == 0:
            messages.append(Message(role="proposer", round=number, kind="reasoning", text=proposer.opening()))
            text, objections = critic.review(choice, proposer.options)
            messages.append(Message(role="critic", round=number, kind="critique", text=text))
        elif index == 1:
            text, verdict = proposer.answer(objections)
            messages.append(Message(role="proposer", round=number, kind="reasoning", text=text))
            choice = proposer.choice
            messages.append(
                Message(role="critic", round=number, kind="critique", text=critic.second_look(choice, verdict))
            )
        else:  # further rounds: the critic re-examines the new plan; the proposer answers only new points
            text, more = critic.review(choice, proposer.options)
            fresh = [o for o in more if o.text not in {x.text for x in objections}]
            objections += fresh
            if not fresh:
                break
            messages.append(Message(role="critic", round=number, kind="critique", text=text))
            answer, again = proposer.answer(fresh)
            verdict = again if again != "accepted" else verdict
            choice = proposer.choice
            messages.append(Message(role="proposer", round=number, kind="reasoning", text=answer))
    if reasoning_rounds == 1:  # the critique was heard; the answer comes with the plan
        _, verdict = proposer.answer(objections)
        choice = proposer.choice
    proposer.choose_numbers()
    design, plan_text = proposer.plan()
    amendments: list[str] = []
    feasibility = ""
    chosen = [o.move.id for o in choice]
    if rounds >= 2:
        number += 1
        messages.append(Message(role="proposer", round=number, kind="plan", text=plan_text))
        design, feasibility, amendments = critic.feasibility(design, chosen)
        messages.append(Message(role="critic", round=number, kind="feasibility", text=feasibility))
    elif rounds == 1:
        design, feasibility, amendments = critic.feasibility(design, chosen)
    else:
        design, amendments = _distinct(context, design)
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
    numbers = {**{o.move.id: proposer.knobs.get(o.move.id) or {} for o in choice},
               **{m: v for m, v in critic.knobs.items() if m in amendments}}
    fields = {
        knob.path: float(getattr(getattr(design, knob.path.split(".")[0]), knob.path.split(".")[1]))
        for move_id in numbers
        for knob in knobs_for(move_id)
    }
    used: dict[str, float] = {}
    for move_id, values in numbers.items():
        used.update(recorded_values(move_id, values, fields))
    sampled = list(proposer.sampled) + [m for m in numbers if m not in proposer.knobs and numbers[m]]
    if verdict == "accepted" and sorted(opening) != sorted(chosen):
        verdict = "switched"
    deliberation = Deliberation(
        opening=opening,
        final=chosen,
        verdict=verdict,  # type: ignore[arg-type]
        objections=[o.text for o in objections],
        amendments=amendments,
        knobs=used,
        sampler=context.sampler,
        sampled=sampled,
    )
    return DebateResult(messages=messages, final=final, deliberation=deliberation)


def _distinct(context: ProposalContext, design: Design) -> tuple[Design, list[str]]:
    """Without a critic the proposer still avoids re-proposing an evaluated design."""
    known = {context.parent_design.key()} | {s.key for s in context.siblings + context.uncles if s.key}
    if design.key() in known:
        nudged, _ = _nudged(design)
        if nudged.key() not in known:
            return nudged, ["distinct"]
    return design, []


def _nudged(design: Design) -> tuple[Design, str]:
    """The smallest change that makes ``design`` another experiment, and what it is in words. A Gaussian
    process or a least-squares operator has no learning rate (a nudged one would be the same method under
    another key): they change their kernel or their penalty."""
    if is_gaussian_process(design):
        return other_kernel(design), "try the other kernel family"
    if design.operator is not None and design.operator.model == "random_features":  # closed form too
        ridge = min(1e3, max(1e-12, design.operator.ridge * 10))
        return design.evolve(operator={"ridge": ridge}), "strengthen the ridge penalty tenfold"
    return design.evolve(optim={"lr": design.optim.lr * 0.7}), "nudge the learning rate"


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
        fallback = proposer._fallback()
        title, why = (
            _capitalise(fallback),
            "No move is supported by the evidence; "
            + ("a smaller step is cheap." if "learning rate" in fallback else "a small change is cheap."),
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


def _steps_after(option: Option, parent: Design, e: Evidence, facts: dict[str, Any], budget: float) -> int:
    try:
        return estimated_steps(option.move.apply(parent, e), facts, budget)
    except ValueError:
        return 0


def _absolute(move_id: str, name: str) -> bool:
    return any(k.absolute for k in knobs_for(move_id) if k.name == name)


def _close(values: dict[str, float], tried: dict[str, float], move_id: str) -> bool:
    """Whether sampled values are within ~15% (per knob) of values a relative already used."""
    for knob in knobs_for(move_id):
        mine, theirs = values.get(knob.name, knob.default), tried.get(knob.param(move_id), knob.default)
        if theirs <= 0 or abs(mine / theirs - 1.0) > 0.15:
            return False
    return True


__all__ = ["Critic", "Proposer", "debate", "design_diff", "tried_moves"]

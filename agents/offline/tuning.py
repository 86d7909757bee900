"""Search that learns from the tree: the numeric knobs of a move, sampled from how this campaign's nodes did.

The moves stay the structural choices; the numbers they leave open (``agents.offline.knobs``) come from
Optuna's TPE sampler, conditioned on every earlier child of this campaign that applied the same move. Each
such child is one trial: its knob values and, as the objective, ``log10(child score / parent score)`` (a
failed child counts as ten times worse than its parent). TPE models the values that gave the best
improvements against the rest and proposes where the ratio of the two densities is highest.

Nothing is kept between calls: the study is rebuilt from the nodes stored in the database and the seed of
the child being proposed, so a resumed campaign and a replay propose exactly the same numbers. The values
sampled are stored with the child's design (``_tuning``), which is all a later study needs.

The first use of a move in a campaign takes the move's own rule (the expert default); CMA-ES is not
offered because most moves have a single knob and CMA-ES needs at least two dimensions.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from agents.offline.knobs import Knob, knobs_for

Sampler = Literal["tpe", "fixed"]
SAMPLERS: tuple[str, ...] = ("tpe", "fixed")
FAILED_OBJECTIVE = 1.0  # log10 ratio charged to a child that failed: "ten times worse than its parent"
STARTUP_TRIALS = 2  # after the expert default and one random probe, TPE proposes


@dataclass(frozen=True)
class Trial:
    """One earlier child that applied a move: the knob values it used and how it did against its parent."""

    params: dict[str, float]  # "move.knob" -> value
    objective: float


def objective(score: float | None, parent_score: float | None, status: str) -> float | None:
    """The improvement a child made, in decades (negative is better); None when it says nothing."""
    if status == "failed":
        return FAILED_OBJECTIVE
    if status not in ("succeeded", "ok", "scored") or score is None or not parent_score or parent_score <= 0:
        return None
    if not math.isfinite(score):
        return FAILED_OBJECTIVE
    return max(-12.0, min(FAILED_OBJECTIVE, math.log10(max(score, 1e-300) / parent_score)))


def recorded_values(move_id: str, values: dict[str, float], design_field: dict[str, float]) -> dict[str, float]:
    """What a child stores for a move: the sampled values, or the rule's own (factor 1 / its fraction)."""
    out = {}
    for knob in knobs_for(move_id):
        if knob.name in values:
            out[knob.param(move_id)] = float(values[knob.name])
        elif knob.absolute and knob.path in design_field:
            out[knob.param(move_id)] = float(design_field[knob.path])
        else:
            out[knob.param(move_id)] = knob.default
    return out


class KnobSampler:
    """Proposes knob values for one child; ``fixed`` always answers with the moves' own rules."""

    def __init__(self, method: str, seed: int, trials: Iterable[Trial]) -> None:
        if method not in SAMPLERS:
            raise ValueError(f"unknown knob sampler {method!r}; known: {list(SAMPLERS)}")
        self.method = method
        self.seed = int(seed) % (2**32)
        self.trials = list(trials)

    def history(self, move_id: str) -> list[Trial]:
        names = {k.param(move_id) for k in knobs_for(move_id)}
        return [t for t in self.trials if names & set(t.params)]

    def suggest(self, move_id: str) -> dict[str, float]:
        """Knob name -> value for ``move_id``; {} means "use the move's rule" (no knobs, no history, fixed)."""
        knobs = knobs_for(move_id)
        if self.method == "fixed" or not knobs:
            return {}
        past = self.history(move_id)
        if not past:
            return {}
        return self._tpe(move_id, knobs, past)

    def _tpe(self, move_id: str, knobs: tuple[Knob, ...], past: list[Trial]) -> dict[str, float]:
        import optuna
        from optuna.distributions import FloatDistribution

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        space = {k.param(move_id): FloatDistribution(k.low, k.high, log=k.log) for k in knobs}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # experimental-feature notices, not problems
            sampler = optuna.samplers.TPESampler(
                seed=self.seed, n_startup_trials=STARTUP_TRIALS, multivariate=len(knobs) > 1
            )
            study = optuna.create_study(direction="minimize", sampler=sampler)
            for trial in past:
                params = {
                    name: min(space[name].high, max(space[name].low, float(trial.params.get(name, 1.0))))
                    for name in space
                }
                study.add_trial(
                    optuna.trial.create_trial(params=params, distributions=space, value=trial.objective)
                )
            asked = study.ask(space)
        return {k.name: float(asked.params[k.param(move_id)]) for k in knobs}


def contrast(move_id: str, tried: list[dict[str, float]]) -> dict[str, float]:
    """Values away from the ones already tried (the critic's "try other numbers" without a sampler):
    for each knob, halfway (in log scale where the knob is logarithmic) to the range end farthest from
    the tried values."""
    out = {}
    for knob in knobs_for(move_id):
        seen = [v[knob.param(move_id)] for v in tried if knob.param(move_id) in v] or [knob.default]

        def t(x: float) -> float:
            return math.log(x) if knob.log else x

        centre = sum(t(v) for v in seen) / len(seen)
        far = knob.high if abs(t(knob.high) - centre) >= abs(t(knob.low) - centre) else knob.low
        mid = (centre + t(far)) / 2
        out[knob.name] = math.exp(mid) if knob.log else mid
    return out


__all__ = ["FAILED_OBJECTIVE", "SAMPLERS", "KnobSampler", "Trial", "contrast", "objective", "recorded_values"]

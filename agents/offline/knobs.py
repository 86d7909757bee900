"""The numeric knobs of the moves: which numbers a structural change leaves open, and in what range.

A move decides *what* changes (add an L-BFGS phase, widen the network, Fourier features on the inputs);
its knobs are *how much*. Each knob is a typed, bounded parameter that a sampler (``agents.offline.tuning``)
may set from what this campaign's scored nodes did. Scale-like knobs are factors applied to the value the
move would set on its own (the expert default, factor 1), so one distribution fits every parent and the
sampler learns "larger or smaller than the rule of thumb, on this problem". Fractions are absolute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from agents.offline.design import MAX_FOURIER_SIGMA, Design


@dataclass(frozen=True)
class Knob:
    """One numeric parameter of a move.

    ``path`` is ``section.field`` of the design. ``absolute`` knobs set the field to the value; the others
    multiply the value the move's rule set (the default). ``integer`` rounds the result; ``clip`` bounds
    it to what the design (and the budget) accepts.
    """

    name: str
    path: str
    low: float
    high: float
    log: bool = True
    integer: bool = False
    absolute: bool = False
    clip: tuple[float, float] = (0.0, math.inf)

    @property
    def default(self) -> float:
        """Factor 1 reproduces the move's own rule; an absolute knob's rule varies, so its centre stands in."""
        return (self.low + self.high) / 2 if self.absolute else 1.0

    def param(self, move_id: str) -> str:
        """The sampler's parameter name: unique per move, so each move keeps its own history."""
        return f"{move_id}.{self.name}"


KNOBS: dict[str, tuple[Knob, ...]] = {
    # --- PINN ---------------------------------------------------------------------------------------------
    "lbfgs": (Knob("fraction", "optim.lbfgs_fraction", 0.3, 0.95, log=False, absolute=True),),
    "widen": (Knob("width", "network.width", 0.6, 2.0, integer=True, clip=(16, 512)),),
    "temporal_features": (Knob("sigma", "network.fourier_sigma", 0.4, 2.5, clip=(0.1, MAX_FOURIER_SIGMA)),),
    "input_fourier": (Knob("sigma", "network.fourier_sigma", 0.4, 2.5, clip=(0.1, MAX_FOURIER_SIGMA)),),
    "time_marching": (Knob("windows", "pinn.time_windows", 0.4, 3.0, integer=True, clip=(2, 20)),),
    "causal_weighting": (Knob("eps", "pinn.causal_eps", 0.2, 5.0, clip=(0.05, 1e4)),),
    "rad_sampling": (Knob("every", "pinn.resample_every", 0.3, 5.0, integer=True, clip=(10, 100_000)),),
    "more_points": (Knob("points", "pinn.n_collocation", 0.6, 2.0, integer=True, clip=(500, 200_000)),),
    "lower_lr": (Knob("lr", "optim.lr", 0.2, 3.0, clip=(1e-5, 1.0)),),
    "lr_schedule": (Knob("final_ratio", "optim.lr_final_ratio", 0.1, 5.0, clip=(1e-4, 1.0)),),
    # --- operator -----------------------------------------------------------------------------------------
    "least_squares": (
        Knob("ridge", "operator.ridge", 1e-3, 1e3, clip=(0.0, 1e3)),
        Knob("scale", "operator.rf_scale", 0.3, 3.0, clip=(1e-3, 100.0)),
    ),
    "more_random_features": (
        Knob("features", "operator.rf_features", 0.5, 2.0, integer=True, clip=(0, 20_000)),
        Knob("ridge", "operator.ridge", 1e-2, 1e2, clip=(0.0, 1e3)),
    ),
    "deeponet_capacity": (Knob("latent", "operator.latent", 0.5, 2.0, integer=True, clip=(4, 512)),),
    "full_batch_lbfgs": (Knob("fraction", "optim.lbfgs_fraction", 0.2, 0.9, log=False, absolute=True),),
    "fno_modes": (Knob("modes", "operator.fno_modes", 0.5, 2.0, integer=True, clip=(2, 128)),),
    "fno_width": (Knob("width", "operator.fno_width", 0.6, 2.0, integer=True, clip=(4, 256)),),
    "bigger_batch": (Knob("lr", "optim.lr", 0.3, 3.0, clip=(1e-5, 1.0)),),
    # --- regression ---------------------------------------------------------------------------------------
    "fourier_features": (Knob("sigma", "network.fourier_sigma", 0.4, 2.5, clip=(0.1, MAX_FOURIER_SIGMA)),),
    "weight_decay": (Knob("decay", "optim.weight_decay", 0.1, 10.0, clip=(0.0, 1.0)),),
}


def knobs_for(move_id: str) -> tuple[Knob, ...]:
    return KNOBS.get(move_id, ())


def _get(design: Design, path: str) -> Any:
    section, name = path.split(".")
    return getattr(getattr(design, section), name)


def set_knobs(design: Design, move_id: str, values: dict[str, float]) -> Design:
    """``design`` (the move already applied) with the knob values put in; unknown names are ignored.

    A value is clipped into its knob's range first, so a stale or hand-edited record cannot produce an
    invalid design; a knob whose field the move left at zero (a feature it did not switch on) stays put.
    """
    changes: dict[str, dict[str, Any]] = {}
    for knob in knobs_for(move_id):
        if knob.name not in values:
            continue
        value = min(knob.high, max(knob.low, float(values[knob.name])))
        current = _get(design, knob.path)
        if knob.absolute:
            new = value
        else:
            if not current:
                continue
            new = float(current) * value
        new = min(knob.clip[1], max(knob.clip[0], new))
        if knob.integer:
            new = int(round(new))
        elif not knob.absolute:
            new = float(f"{new:.3g}")
        section, name = knob.path.split(".")
        changes.setdefault(section, {})[name] = new
        if knob.path == "network.fourier_sigma" and design.network.fourier_axis_sigma:
            # per-axis scales follow the overall one, so a factor keeps the anisotropy the move found
            factor = new / max(float(current), 1e-12)
            changes["network"]["fourier_axis_sigma"] = [
                float(f"{min(MAX_FOURIER_SIGMA, s * factor):.3g}") for s in design.network.fourier_axis_sigma
            ]
    if not changes:
        return design
    try:
        return design.evolve(**changes)
    except ValueError:  # a combination the design rejects: the rule's own values stand
        return design


__all__ = ["KNOBS", "Knob", "knobs_for", "set_knobs"]

"""The typed design space of the offline team: every candidate it writes is one :class:`Design`.

A design is a small, validated description of a SciML method (network, physics-informed training, operator
or regression specifics, optimisation). The renderer turns it into a complete candidate module, the
heuristic roles edit it, and :meth:`Design.key` identifies it so that a campaign never pays twice for the
same idea. Keeping the space typed, rather than editing code text, is what lets an LLM-free team make
changes that always produce runnable code.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Kind = Literal["pinn", "operator", "regression"]
Architecture = Literal["mlp", "resnet", "modified_mlp", "moe"]
Activation = Literal["tanh", "sin", "gelu", "relu", "adaptive_tanh"]
FourierTarget = Literal["inputs", "time"]
LossWeighting = Literal["fixed", "self_adaptive", "lr_annealing"]
Sampling = Literal["uniform", "rad"]
Schedule = Literal["none", "exponential", "cosine"]
OperatorModel = Literal["deeponet", "fno", "random_features"]
InputNorm = Literal["none", "global", "per_sensor"]
RegressionModel = Literal["network", "gaussian_process"]
GPKernel = Literal["rbf", "matern52"]

#: the largest Fourier-feature scale a design may carry (moves derive theirs from the data and clamp to it)
MAX_FOURIER_SIGMA = 1000.0

_ARCH_NAMES = {
    "mlp": "MLP",
    "resnet": "residual MLP",
    "modified_mlp": "modified MLP",
    "moe": "mixture of experts",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


#: Marks a field added after keys were first handed out: at its default it is left out of the canonical form,
#: so the keys (and rendered DESIGN literals) of the designs that do not use it stay what they were.
_LATER = {"omit_at_default": True}


def _drop_later_defaults(model: BaseModel, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (the JSON dump of ``model``) without the ``_LATER`` fields that sit at their defaults."""
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, BaseModel) and isinstance(data.get(name), dict):
            data[name] = _drop_later_defaults(value, data[name])
        elif (info.json_schema_extra or {}).get("omit_at_default") and value == info.get_default(
            call_default_factory=True
        ):
            data.pop(name, None)
    return data


class Network(_Strict):
    """The function approximator (for DeepONet: the trunk net; for the FNO only ``activation`` is used)."""

    architecture: Architecture = "mlp"
    width: int = Field(50, ge=4, le=512)
    depth: int = Field(4, ge=1, le=12, description="hidden layers")
    activation: Activation = "tanh"
    n_experts: int = Field(4, ge=2, le=16, description="experts of the gated mixture (architecture 'moe')")
    fourier_features: int = Field(0, ge=0, le=512, description="random Fourier features; 0 = none")
    fourier_sigma: float = Field(
        1.0,
        gt=0,
        le=MAX_FOURIER_SIGMA,
        description=(
            "std of the Gaussian frequencies: w.r.t. the normalised network inputs ('inputs'), or angular "
            "frequency per unit of physical time ('time')"
        ),
    )
    fourier_axis_sigma: list[float] | None = Field(
        None,
        max_length=16,
        description=(
            "'inputs': one std per network input (anisotropic features for scales that differ by axis); the "
            "normalised inputs are kept next to the features. None: fourier_sigma on every axis (None keeps the "
            "keys of designs stored before this field existed)"
        ),
    )
    fourier_on: FourierTarget = Field(
        "inputs",
        description=(
            "'inputs': the features replace the (normalised) inputs; 'time': features of t are appended (PINN)"
        ),
    )
    periodic_harmonics: int = Field(
        0,
        ge=0,
        le=8,
        description=(
            "PINN: harmonics of the exact periodic embedding of periodic variables; 0 = raw coordinates"
        ),
    )
    output_scale: float = Field(1.0, gt=0, le=1000.0, description="constant factor on the raw network output")

    def summary(self) -> str:
        text = f"{_ARCH_NAMES[self.architecture]} {self.depth}x{self.width} {self.activation}"
        if self.architecture == "moe":
            text += f" ({self.n_experts} experts)"
        if self.fourier_features:
            where = "of time" if self.fourier_on == "time" else "on the inputs"
            sigma = ("/".join(f"{v:g}" for v in self.fourier_axis_sigma) + " by axis") if (
                self.fourier_axis_sigma and self.fourier_on == "inputs") else f"{self.fourier_sigma:g}"
            text += f", {self.fourier_features} Fourier features {where} (sigma {sigma})"
        if self.periodic_harmonics:
            text += f", periodic embedding ({self.periodic_harmonics} harmonic{'s' if self.periodic_harmonics > 1 else ''})"
        if self.output_scale != 1.0:
            text += f", output scale {self.output_scale:g}"
        return text


class PinnTraining(_Strict):
    """How the physics enters the loss, and where the residual is evaluated."""

    exact_periodic: bool = False
    exact_initial: bool = False
    exact_dirichlet: bool = False
    weighting: LossWeighting = "fixed"
    w_residual: float = Field(1.0, gt=0, le=1e6)
    w_initial: float = Field(1.0, gt=0, le=1e6)
    w_boundary: float = Field(1.0, gt=0, le=1e6)
    w_periodic: float = Field(1.0, gt=0, le=1e6)
    annealing_alpha: float = Field(0.1, gt=0, le=1.0, description="moving-average rate of lr annealing")
    annealing_every: int = Field(100, ge=1, le=10_000)
    causal_eps: float = Field(0.0, ge=0, le=1e4, description="causal weighting strength; 0 = off")
    causal_chunks: int = Field(32, ge=2, le=256)
    time_windows: int = Field(1, ge=1, le=20, description="time-marching curriculum stages; 1 = off")
    n_collocation: int = Field(2000, ge=16, le=200_000)
    resample_every: int = Field(0, ge=0, le=100_000, description="steps between fresh point sets; 0 = fixed")
    sampling: Sampling = "uniform"
    rad_k: float = Field(1.0, gt=0, le=5.0, description="RAD: density ~ |r|^k / mean |r|^k + c")
    rad_c: float = Field(1.0, ge=0, le=100.0)
    n_constraint: int = Field(
        256, ge=8, le=20_000, description="points per soft initial/boundary/periodic term"
    )

    def summary(self, has_time: bool = True) -> str:
        exact = [
            name
            for flag, name in (
                (self.exact_periodic, "periodic"),
                (self.exact_initial, "initial"),
                (self.exact_dirichlet, "Dirichlet"),
            )
            if flag
        ]
        if exact:
            joined = exact[0] if len(exact) == 1 else ", ".join(exact[:-1]) + " and " + exact[-1]
            parts = [f"exact {joined} condition{'s' if len(exact) > 1 else ''}"]
        else:
            parts = ["soft constraints"]
        if self.weighting == "self_adaptive":
            parts.append("self-adaptive loss weights")
        elif self.weighting == "lr_annealing":
            parts.append("learning-rate-annealing loss weights")
        if self.causal_eps > 0:
            parts.append(f"causal weighting (eps {self.causal_eps:g}, {self.causal_chunks} chunks)")
        if self.time_windows > 1:
            parts.append(f"time marching in {self.time_windows} windows")
        points = f"{self.n_collocation} collocation points"
        if self.sampling == "rad":
            points += f", RAD resampling every {self.resample_every or 1} steps"
        elif self.resample_every:
            points += f" resampled every {self.resample_every} steps"
        parts.append(points)
        return ", ".join(parts)


class Optimisation(_Strict):
    lr: float = Field(1e-3, gt=0, le=1.0)
    schedule: Schedule = "none"
    lr_final_ratio: float = Field(0.1, gt=0, le=1.0, description="lr at the end of Adam / initial lr")
    batch_size: int = Field(256, ge=1, le=100_000, description="regression: samples, operator: functions")
    weight_decay: float = Field(0.0, ge=0, le=1.0)
    grad_clip: float = Field(0.0, ge=0, le=1e6, description="max gradient norm; 0 = no clipping")
    lbfgs_fraction: float = Field(
        0.0, ge=0, le=0.95, description="share of the training time given to L-BFGS"
    )
    lbfgs_resample: bool = Field(True, description="PINN: fresh collocation points for each L-BFGS round")
    float64_finish: bool = Field(False, description="switch to float64 for the last part of training")
    max_steps: int = Field(200_000, ge=1, le=10_000_000)

    def summary(self) -> str:
        text = f"Adam lr {self.lr:g}"
        if self.schedule != "none":
            text += f" ({self.schedule} decay to x{self.lr_final_ratio:g})"
        if self.weight_decay:
            text += f", weight decay {self.weight_decay:g}"
        if self.grad_clip:
            text += f", clip {self.grad_clip:g}"
        if self.lbfgs_fraction:
            text += f", L-BFGS for {self.lbfgs_fraction:.0%} of the time"
        if self.float64_finish:
            text += ", float64 finish"
        return text


class OperatorLearning(_Strict):
    model: OperatorModel = "deeponet"
    branch_width: int = Field(40, ge=4, le=1024)
    branch_depth: int = Field(2, ge=1, le=8)
    latent: int = Field(40, ge=4, le=512, description="DeepONet basis size p")
    linear_branch: bool = Field(
        False, description="branch = one linear map of the sensor values (linear operators)"
    )
    output_bias: bool = True
    trunk_features: int = Field(0, ge=0, le=64, description="sin/cos harmonics appended to the trunk input")
    input_norm: InputNorm = "global"
    fno_modes: int = Field(16, ge=2, le=128)
    fno_width: int = Field(32, ge=4, le=256)
    fno_layers: int = Field(4, ge=1, le=8)
    fno_dim: Literal[1, 2] = Field(
        1,
        description="the FNO's grid: 1 = sensors on a line, 2 = sensors on a 2-D tensor grid (modes per axis)",
        json_schema_extra=_LATER,
    )
    rf_features: int = Field(0, ge=0, le=20_000, description="random features of u added to the linear ones")
    rf_scale: float = Field(
        1.0, gt=0, le=100.0, description="std of the random feature weights (scaled inputs)"
    )
    ridge: float = Field(1e-8, ge=0, le=1e3, description="ridge penalty relative to the mean feature energy")

    def summary(self) -> str:
        if self.model == "random_features":
            extra = (
                f" + {self.rf_features} random features (scale {self.rf_scale:g})" if self.rf_features else ""
            )
            return f"least-squares operator on the sensor values{extra}, ridge {self.ridge:g}"
        if self.model == "fno":
            modes = f"{self.fno_modes} modes" + (" per axis" if self.fno_dim > 1 else "")
            return f"{self.fno_dim}D FNO ({self.fno_layers} layers, width {self.fno_width}, {modes})"
        branch = "linear branch" if self.linear_branch else f"branch {self.branch_depth}x{self.branch_width}"
        text = f"DeepONet ({branch}, p = {self.latent}"
        text += ", output bias" if self.output_bias else ", no output bias"
        if self.trunk_features:
            text += f", {self.trunk_features} trunk harmonics"
        return text + f", {self.input_norm.replace('_', '-')} input normalisation)"


class Regression(_Strict):
    standardise_inputs: bool = True
    standardise_outputs: bool = True
    split_at_jumps: bool = Field(False, description="fit one network per piece between discontinuities")
    split_points: list[float] = Field(default_factory=list, description="known jump locations; [] = detect")
    split_axes: list[int] = Field(
        default_factory=list,
        description="the input axis of each split point (the split is the plane x_k = c); [] = the first input",
        json_schema_extra=_LATER,
    )
    ensemble: int = Field(1, ge=1, le=16)
    model: RegressionModel = Field(
        "network",
        description="a trained network, or exact Gaussian-process regression (no network, no optimiser steps "
        "but the marginal likelihood's)",
        json_schema_extra=_LATER,
    )
    gp_kernel: GPKernel = Field("rbf", description="the GP's covariance: squared exponential or Matern 5/2",
                                json_schema_extra=_LATER)
    gp_points: int = Field(
        1500, ge=50, le=4000, description="samples per piece the GP is fitted on (a seeded draw beyond that)",
        json_schema_extra=_LATER,
    )

    @model_validator(mode="after")
    def _axes_match_points(self) -> Regression:
        if self.split_axes and len(self.split_axes) != len(self.split_points):
            raise ValueError(
                f"split_axes names {len(self.split_axes)} axes for {len(self.split_points)} split points"
            )
        if any(axis < 0 or axis > 1023 for axis in self.split_axes):
            raise ValueError("split axes are input column indices (0 to 1023)")
        return self

    def summary(self) -> str:
        parts = []
        if self.split_at_jumps:
            if not self.split_points:
                where = "detected jumps"
            elif self.split_axes:
                where = ", ".join(f"x{k} = {p:.3g}" for k, p in zip(self.split_axes, self.split_points))
            else:
                where = ", ".join(f"{p:.3g}" for p in self.split_points)
            parts.append(f"piecewise fit split at {where}")
        if self.model == "gaussian_process":
            kernel = "squared-exponential" if self.gp_kernel == "rbf" else "Matern 5/2"
            parts.append(f"Gaussian process ({kernel} kernel, ARD length scales, on up to {self.gp_points} samples)")
        if self.ensemble > 1 and self.model == "network":
            parts.append(f"ensemble of {self.ensemble}")
        if not (self.standardise_inputs and self.standardise_outputs):
            parts.append(
                "unscaled "
                + " and ".join(
                    n
                    for f, n in ((self.standardise_inputs, "inputs"), (self.standardise_outputs, "outputs"))
                    if not f
                )
            )
        return ", ".join(parts)


class Design(_Strict):
    """One candidate method. Exactly the section matching ``kind`` is present (filled with defaults if omitted)."""

    kind: Kind
    network: Network = Field(default_factory=Network)
    optim: Optimisation = Field(default_factory=Optimisation)
    pinn: PinnTraining | None = None
    operator: OperatorLearning | None = None
    regression: Regression | None = None

    @model_validator(mode="before")
    @classmethod
    def _fill_section(cls, data: Any) -> Any:
        if isinstance(data, dict):
            section = {"pinn": "pinn", "operator": "operator", "regression": "regression"}.get(
                data.get("kind")
            )
            if section and data.get(section) is None:
                data = {**data, section: {}}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Design:
        sections = {"pinn": self.pinn, "operator": self.operator, "regression": self.regression}
        for name, value in sections.items():
            if name != self.kind and value is not None:
                raise ValueError(f"a {self.kind} design cannot carry a {name!r} section")
        if self.kind != "pinn":
            if self.network.fourier_on == "time" and self.network.fourier_features:
                raise ValueError("Fourier features of time exist only for PINN designs")
            if self.network.periodic_harmonics:
                raise ValueError("the periodic embedding comes from the PDE: PINN designs only")
        if self.pinn is not None:
            if self.pinn.exact_periodic != (self.network.periodic_harmonics > 0):
                raise ValueError(
                    "exact periodicity is the periodic embedding: set exact_periodic together with "
                    "network.periodic_harmonics >= 1 (or neither)"
                )
            if self.pinn.sampling == "rad" and self.pinn.resample_every == 0:
                raise ValueError("RAD needs a resampling period (pinn.resample_every >= 1)")
        trained_by_adam_only = self.operator is not None and self.operator.model != "deeponet"
        if trained_by_adam_only and (self.optim.lbfgs_fraction or self.optim.float64_finish):
            raise ValueError(f"the {self.operator.model} design has no L-BFGS or float64 phase")
        return self

    # --- identity -----------------------------------------------------------------------------------------
    def canonical(self) -> dict[str, Any]:
        """The JSON-ready dict with only the active section (what the renderer writes as ``DESIGN``)."""
        return _drop_later_defaults(self, self.model_dump(mode="json", exclude_none=True))

    def key(self) -> str:
        """A stable 12-hex-digit hash of the design: equal designs (field by field) have equal keys."""
        payload = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()[:12]

    def describe(self) -> str:
        """One line a person can read: the method, not the field list."""
        if self.kind == "pinn":
            assert self.pinn is not None
            return f"PINN: {self.network.summary()}; {self.pinn.summary()}; {self.optim.summary()}"
        if self.kind == "operator":
            assert self.operator is not None
            model = self.operator.summary()
            if self.operator.model == "deeponet":
                model += f" with trunk {self.network.summary()}"
            if self.operator.model == "random_features":
                return f"Operator: {model} (closed form)"
            return f"Operator: {model}; {self.optim.summary()}, batch {self.optim.batch_size}"
        assert self.regression is not None
        extra = self.regression.summary()
        if self.regression.model == "gaussian_process":
            return f"Regression: {extra} (no network)"
        return (
            f"Regression: {self.network.summary()}{'; ' + extra if extra else ''}; "
            f"{self.optim.summary()}, batch {self.optim.batch_size}"
        )

    def evolve(self, **changes: Any) -> Design:
        """A validated copy with nested changes, e.g. ``evolve(network={"width": 64}, optim={"lr": 3e-4})``."""
        data = self.model_dump()
        for section, value in changes.items():
            if isinstance(value, dict) and isinstance(data.get(section), dict):
                data[section] = {**data[section], **value}
            else:
                data[section] = value
        return Design.model_validate(data)

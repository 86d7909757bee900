"""Turn a :class:`~agents.offline.design.Design` into a complete, self-contained candidate module.

The candidate is assembled from readable templates (``templates/*.tmpl``) whose optional sections are kept
or dropped according to the design, so the result contains only the machinery the design uses. Numbers are
not inlined: the module starts with a ``DESIGN = {...}`` literal and the code reads its values from there,
which is also where a later (LLM) engineer would turn the knobs.

The rendered module imports only the standard library, numpy and torch, and its ``solve(task)``:
seeds everything from ``task.seed``, uses ``task.budget.cpu_threads`` threads and ``task.device``, plans its
phases with ``task.time_left`` (keeping a reserve for prediction), and reports progress with ``task.log``.
"""

from __future__ import annotations

import textwrap
from functools import cache
from pathlib import Path

from agents.offline.design import Design
from agents.offline.moves import is_closed_form, is_gaussian_process
from agents.offline.templating import preprocess

_TEMPLATES = Path(__file__).resolve().parent / "templates"


@cache
def _template(name: str) -> str:
    return (_TEMPLATES / f"{name}.tmpl").read_text()


def render_candidate(design: Design, title: str | None = None, rationale: str | None = None) -> str:
    """The candidate module implementing ``design``; ``title``/``rationale`` go into its docstring."""
    flags = {**network_flags(design), **kind_flags(design)}
    uses_network = not is_closed_form(design)  # a least-squares operator or a Gaussian process
    parts = [
        _docstring(design, title, rationale),
        "from __future__ import annotations\n",
        _imports(design),
        _design_literal(design),
        preprocess(_template("network"), flags) if uses_network else "",
        preprocess(_template(design.kind), flags),
    ]
    return "\n\n".join(part.rstrip() for part in parts if part) + "\n"


# ------------------------------------------------------------------------------------------------------------
# Flags: which template sections a design needs
# ------------------------------------------------------------------------------------------------------------
def network_flags(design: Design) -> dict[str, bool]:
    net = design.network
    uses_mlp_activation = not (
        design.kind == "operator" and design.operator and design.operator.model == "fno"
    )
    flags = {
        f"act_{name}": net.activation == name and uses_mlp_activation
        for name in ("tanh", "sin", "gelu", "relu")
    }
    flags["act_adaptive"] = net.activation == "adaptive_tanh" and uses_mlp_activation
    if not uses_mlp_activation:  # the FNO template has its own activation; keep a harmless default here
        flags["act_tanh"] = True
    flags.update(
        {
            "arch_mlp": net.architecture == "mlp",
            "arch_resnet": net.architecture == "resnet",
            "arch_modified": net.architecture == "modified_mlp",
            "arch_moe": net.architecture == "moe",
            "fourier": net.fourier_features > 0 and net.fourier_on == "inputs",
        }
    )
    return flags


def kind_flags(design: Design) -> dict[str, bool]:
    optim = design.optim
    flags = {
        "lbfgs": optim.lbfgs_fraction > 0,
        "float64": optim.float64_finish,
        "clip": optim.grad_clip > 0,
        "schedule_none": optim.schedule == "none",
        "schedule_exp": optim.schedule == "exponential",
        "schedule_cos": optim.schedule == "cosine",
    }
    if design.kind == "pinn":
        flags.update(_pinn_flags(design))
    elif design.kind == "operator":
        assert design.operator is not None
        op = design.operator
        flags.update(
            {
                "deeponet": op.model == "deeponet",
                "fno": op.model == "fno",
                "fno1d": op.model == "fno" and op.fno_dim == 1,
                "fno2d": op.model == "fno" and op.fno_dim == 2,
                "grid_helpers": (op.model == "fno" and op.fno_dim == 2) or op.model == "random_features",
                "rf": op.model == "random_features",
                "trunk_features": op.trunk_features > 0,
                "linear_branch": op.linear_branch,
                "output_bias": op.output_bias,
                "norm_none": op.input_norm == "none",
                "norm_global": op.input_norm == "global",
                "norm_per_sensor": op.input_norm == "per_sensor",
                "weight_decay": optim.weight_decay > 0,
            }
        )
    else:
        assert design.regression is not None
        reg = design.regression
        flags.update(
            {
                "split": reg.split_at_jumps,
                "gp": reg.model == "gaussian_process",
                "gp_rbf": reg.model == "gaussian_process" and reg.gp_kernel == "rbf",
                "gp_matern": reg.model == "gaussian_process" and reg.gp_kernel == "matern52",
                "ensemble": reg.ensemble > 1,
                "scale_x": reg.standardise_inputs,
                "scale_y": reg.standardise_outputs,
                "weight_decay": optim.weight_decay > 0,
            }
        )
    return flags


def _pinn_flags(design: Design) -> dict[str, bool]:
    assert design.pinn is not None
    net, pinn, optim = design.network, design.pinn, design.optim
    lbfgs = optim.lbfgs_fraction > 0
    adam_resample = pinn.resample_every > 0
    lbfgs_resample = lbfgs and optim.lbfgs_resample
    rad = pinn.sampling == "rad"
    redraw = adam_resample or lbfgs_resample or rad
    marching = pinn.time_windows > 1
    causal = pinn.causal_eps > 0
    # Which conditions end up penalised depends on the PDE (``task.pde.imposed``), not only on the design: a
    # Neumann or Robin condition is always a penalty, so the penalty machinery is always rendered.
    soft_periodic = not pinn.exact_periodic
    adaptive = pinn.weighting == "self_adaptive"
    return {
        "exact_periodic": pinn.exact_periodic,
        "exact_initial": pinn.exact_initial,
        "exact_dirichlet": pinn.exact_dirichlet,
        "exact_any": pinn.exact_initial or pinn.exact_dirichlet,
        "output_scale": net.output_scale != 1.0,
        "time_features": net.fourier_features > 0 and net.fourier_on == "time",
        "soft_periodic": soft_periodic,
        "soft_terms": True,
        "w_fixed": pinn.weighting == "fixed",
        "w_annealing": pinn.weighting == "lr_annealing",
        "w_adaptive": adaptive,
        "sa_residual": adaptive and not (redraw or marching or causal),
        "causal": causal,
        "marching": marching,
        "rad": rad,
        "redraw_uniform": redraw and not rad,
        "adam_resample": adam_resample,
        "lbfgs_resample": lbfgs_resample,
    }


# ------------------------------------------------------------------------------------------------------------
# Header: docstring, imports, DESIGN literal
# ------------------------------------------------------------------------------------------------------------
def _docstring(design: Design, title: str | None, rationale: str | None) -> str:
    heading = (
        title
        or {
            "pinn": "Physics-informed neural network",
            "operator": "Neural operator",
            "regression": "Gaussian-process regression"
            if is_gaussian_process(design)
            else "Neural regression",
        }[design.kind]
    )
    lines = [f'"""{_docstring_safe(heading)}.', "", *_wrap(design.describe()), ""]
    if rationale:
        lines += ["Why this design:", "", *map(_docstring_safe, _wrap(rationale)), ""]
    notes = method_notes(design)
    if notes:
        lines += ["How it works:", ""]
        for note in notes:
            wrapped = _wrap(note, indent="  ")
            lines += ["- " + wrapped[0].lstrip(), *wrapped[1:]]
        lines.append("")
    lines += [
        "Written by the offline design renderer: the knobs are in DESIGN below; the code reads them from there.",
        '"""',
    ]
    return "\n".join(lines)


def _docstring_safe(text: str) -> str:
    """One line of free text (a title, a rationale) that cannot end or break the module docstring: control
    characters become spaces, backslashes and triple quotes are escaped."""
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def _wrap(text: str, indent: str = "") -> list[str]:
    return textwrap.wrap(text, width=108, initial_indent=indent, subsequent_indent=indent) or [""]


def method_notes(design: Design) -> list[str]:
    """One sentence per technique the design uses (shown in the candidate's docstring)."""
    net, optim = design.network, design.optim
    notes: list[str] = []
    if net.architecture == "modified_mlp":
        notes.append(
            "Modified MLP (Wang, Teng & Perdikaris 2021): two input encoders gate every hidden layer."
        )
    elif net.architecture == "moe":
        notes.append(f"Mixture of {net.n_experts} expert MLPs blended by a learned softmax gate.")
    elif net.architecture == "resnet":
        notes.append("Residual MLP: skip connections keep gradients alive in deeper networks.")
    if net.activation == "adaptive_tanh":
        notes.append("Adaptive tanh: every layer learns the slope of its activation (Jagtap et al. 2020).")
    if net.fourier_features and net.fourier_on == "inputs":
        notes.append(
            f"{net.fourier_features} random Fourier features (sigma {net.fourier_sigma:g}) against "
            "spectral bias (Tancik et al. 2020)."
        )
    if design.kind == "pinn":
        assert design.pinn is not None
        pinn = design.pinn
        if net.fourier_features and net.fourier_on == "time":
            notes.append(
                f"{net.fourier_features} random temporal Fourier features, angular frequencies "
                f"~ N(0, {net.fourier_sigma:g}^2), so oscillation in time need not be learnt from scratch."
            )
        if pinn.exact_periodic:
            notes.append(
                "Periodic directions enter through cos/sin of their phase: u is periodic to all orders."
            )
        if pinn.exact_initial:
            notes.append("u = g0(x) + (t - t0) N(x, t) (plus the velocity term) satisfies the initial data exactly.")
        if pinn.exact_dirichlet:
            notes.append(
                "u = G(x) + D(x) N(x), with D vanishing on the Dirichlet faces, satisfies the Dirichlet data."
            )
        if pinn.causal_eps:
            notes.append(
                f"Causal weighting (eps {pinn.causal_eps:g}): a time slice counts only once earlier slices "
                "are resolved (Wang, Sankaran & Perdikaris 2022)."
            )
        if pinn.time_windows > 1:
            notes.append(
                f"Time marching: the time window grows in {pinn.time_windows} stages over the training."
            )
        if pinn.sampling == "rad":
            notes.append("Residual-based adaptive resampling (RAD) puts points where the residual is large.")
        if pinn.weighting == "lr_annealing":
            notes.append("Loss weights follow gradient statistics (learning-rate annealing).")
        elif pinn.weighting == "self_adaptive":
            notes.append("Self-adaptive per-point weights, trained by gradient ascent.")
    if design.kind == "operator":
        assert design.operator is not None
        if design.operator.model == "fno":
            notes.append(
                "Fourier neural operator (Li et al. 2021): global convolutions truncated to the low modes"
                + (
                    " of both axes of the 2-D sensor grid (rfft2), bilinearly interpolated to the query points."
                    if design.operator.fno_dim == 2
                    else "."
                )
            )
        elif design.operator.model == "random_features":
            notes.append(
                "Least squares in closed form on the sensor values"
                + (" and random Fourier features of them" if design.operator.rf_features else "")
                + ": no iterative training at all."
            )
        elif design.operator.linear_branch:
            notes.append("Linear branch: the output is linear in the input function, as the operator is.")
    if design.kind == "regression":
        assert design.regression is not None
        if design.regression.split_at_jumps:
            notes.append(
                "Piecewise fit: one model per interval between discontinuities (per cell between "
                "axis-aligned planes of discontinuity for several inputs), so no model has to represent a jump; "
                "across the gap between the samples on either side of a jump the two fits are blended linearly, "
                "the least-squares guess when the jump may lie anywhere in that gap."
            )
        if design.regression.model == "gaussian_process":
            notes.append(
                "Gaussian-process regression (Rasmussen & Williams 2006): exact posterior mean, one length scale "
                "per input, signal and noise variances from the log marginal likelihood, best of several starts."
            )
        elif design.regression.ensemble > 1:
            notes.append(
                f"Ensemble of {design.regression.ensemble} independently initialised networks, averaged."
            )
    if optim.lbfgs_fraction:
        notes.append(
            f"L-BFGS for the last {optim.lbfgs_fraction:.0%} of the training time (curvature helps "
            "where Adam stalls)."
        )
    if optim.float64_finish:
        notes.append("Final phase in float64, below float32 round-off.")
    return notes


def _imports(design: Design) -> str:
    lines = []
    needs_copy = design.optim.lbfgs_fraction > 0 or design.kind != "pinn"
    if needs_copy:
        lines.append("import copy")
    lines += [
        "import math",
        "import time",
        "from typing import Any",
        "",
        "import numpy as np",
        "import torch",
        "from torch import nn",
    ]
    return "\n".join(lines) + "\n"


def _design_literal(design: Design) -> str:
    lines = [f"# The design this candidate implements (key {design.key()}).", "DESIGN = {"]
    for name, value in design.canonical().items():
        if isinstance(value, dict):
            lines.append(f"    {name!r}: {{")
            lines += [f"        {key!r}: {item!r}," for key, item in value.items()]
            lines.append("    },")
        else:
            lines.append(f"    {name!r}: {value!r},")
    lines.append("}")
    return "\n".join(lines) + "\n"

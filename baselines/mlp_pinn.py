"""Baseline candidate for PINN problems: the vanilla physics-informed neural network.

This is the formulation of Raissi, Perdikaris & Karniadakis, "Physics-informed neural networks", J. Comput.
Phys. 378 (2019): a fully connected tanh network u_theta(x, t) is trained so that the PDE residual vanishes at
collocation points while the boundary and initial conditions are matched in the least-squares sense,

    L(theta) = w_r * mean |N[u_theta](x_r)|^2
             + w_b * mean |u_theta(x_b) - g(x_b)|^2
             + w_i * mean |u_theta(x_0) - h(x_0)|^2
             (+ w_p * mean |u_theta(x_lo) - u_theta(x_hi)|^2 for periodic directions),

where a condition the task ships no points for (a Neumann face, an initial velocity, any condition of a
user spec without arrays) is penalised through its own residual (``condition.residual``) at points drawn
on its faces.

It is the root candidate a discovery campaign improves on, so it is deliberately *not* tuned: fixed loss
weights, Adam with a constant learning rate, random minibatches of the given collocation points, soft
constraints only (``task.pde.exact_constraints`` lists the ones that could be hard-wired instead), no feature
embeddings, no curriculum. It is known to fail on hard problems (e.g. convection with a large speed, see
Krishnapriyan et al., "Characterizing possible failure modes in physics-informed neural networks", NeurIPS
2021), which is exactly the headroom a campaign is meant to find. The parts a child candidate is likely to
change:

    CONFIG             hyper-parameters (architecture, loss weights, optimiser, sampling, logging)
    PINN               the network (input scaling, layers, initialisation)
    compute_losses     the loss terms (residual, boundary, initial, periodic)
    train              the optimisation loop
    predict            the inference pass

Everything problem-specific comes from ``task.pde`` (residual operator, bounds, samplers, periodicity) and
``task.train`` (collocation / boundary / initial points), so the same file runs on every PINN problem.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

# ---------------------------------------------------------------------------------------------------------
# Hyper-parameters
# ---------------------------------------------------------------------------------------------------------
CONFIG: dict[str, Any] = {
    "width": 50,  # neurons per hidden layer
    "depth": 4,  # number of hidden layers (the 4 x 50 tanh network common in the PINN literature)
    "lr": 1e-3,  # Adam learning rate (constant)
    "w_residual": 1.0,  # weight of the PDE residual term
    "w_boundary": 1.0,  # weight of the boundary-condition term
    "w_initial": 1.0,  # weight of the initial-condition term
    "w_periodic": 1.0,  # weight of the periodicity term (only for problems with periodic directions)
    # Collocation points per step, drawn at random from task.train["x_interior"]; None = all of them. Random
    # minibatches are how Wang, Teng & Perdikaris (SIAM J. Sci. Comput. 43, 2021) train their vanilla PINN
    # baselines; here they also buy several times more optimiser steps within a one-minute CPU budget than
    # full batches of 10^4 points, whose second derivatives cost ~0.1 s per step on one thread.
    "batch_interior": 1024,
    "resample_every": 0,  # draw fresh collocation points with task.pde.sample_interior every k steps; 0 = never
    "n_periodic": 256,  # point pairs used for the periodicity term
    "n_condition": 256,  # points drawn per condition the task ships no points for (Neumann faces, u_t(x, 0), ...)
    "max_steps": 50_000,  # hard cap on optimiser steps (the wall budget usually stops training first)
    # Share of the training time given to a full-batch L-BFGS finish after Adam; 0 = Adam only (the vanilla
    # PINN). The tuned baseline (``baselines.tuned_baseline_source``) sets it, as most PINN papers do.
    "lbfgs_fraction": 0.0,
    "lbfgs_points": 4096,  # collocation points of the L-BFGS phase (full batch: L-BFGS needs a fixed loss)
    "log_every": 100,  # call task.log every this many steps
    "margin_fraction": 0.1,  # fraction of the wall budget kept back for prediction...
    "margin_min_s": 0.3,  # ...but at least this many seconds...
    "margin_max_s": 5.0,  # ...and at most this many
}


# ---------------------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------------------
class PINN(nn.Module):
    """tanh MLP taking *physical* coordinates.

    The affine map to [-1, 1]^d is part of the network, so autograd derivatives of the output are taken with
    respect to the physical coordinates and ``task.pde.residual`` can be applied to it unchanged.
    """

    def __init__(self, bounds: np.ndarray) -> None:
        super().__init__()
        bounds = np.asarray(bounds, dtype=np.float64)
        lower, upper = bounds[:, 0], bounds[:, 1]
        # Registered as buffers: they move with .to(device) but are not trained.
        self.register_buffer("centre", torch.as_tensor((upper + lower) / 2, dtype=torch.float32))
        self.register_buffer("half_width", torch.as_tensor((upper - lower) / 2, dtype=torch.float32))

        layers: list[nn.Module] = []
        previous = bounds.shape[0]
        for _ in range(CONFIG["depth"]):
            layers += [nn.Linear(previous, CONFIG["width"]), nn.Tanh()]
            previous = CONFIG["width"]
        layers.append(nn.Linear(previous, 1))
        self.net = nn.Sequential(*layers)
        for module in self.net:  # Glorot (Xavier) initialisation, zero biases, as in Raissi et al.
            if isinstance(module, nn.Linear):
                nn.init.xavier_normal_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, d) physical coordinates -> u: (N, 1)."""
        return self.net((x - self.centre) / self.half_width)


# ---------------------------------------------------------------------------------------------------------
# Training data
# ---------------------------------------------------------------------------------------------------------
class TrainingData:
    """The point sets the losses are evaluated on, as tensors on the training device."""

    def __init__(self, task: Any, device: torch.device) -> None:
        def tensor(key: str) -> torch.Tensor | None:
            if key not in task.train:
                return None
            array = np.asarray(task.train[key], dtype=np.float32)
            return torch.as_tensor(array, device=device)

        def column(values: torch.Tensor | None) -> torch.Tensor | None:
            return None if values is None else values.reshape(-1, 1)

        self.x_interior = tensor("x_interior")
        self.x_boundary, self.u_boundary = tensor("x_boundary"), column(tensor("u_boundary"))
        self.x_initial, self.u_initial = tensor("x_initial"), column(tensor("u_initial"))
        # Columns of the periodic variables, e.g. [0] for ("x", "t") periodic in x.
        self.periodic_dims = [task.pde.index(name) for name in task.pde.periodic]
        self.bounds = np.asarray(task.pde.bounds, dtype=np.float64)
        self.device = device
        self.rng = np.random.default_rng(int(task.seed))  # the only source of randomness for resampling
        if self.x_interior is None:  # no collocation points were shipped: draw them from the PDE sampler
            self.resample_interior(task.pde, 2048)
        self.x_periodic = self._periodic_pairs() if self.periodic_dims else None
        self.x_observed, self.u_observed = tensor("x_observed"), column(tensor("u_observed"))
        # Conditions the shipped arrays do not cover (Neumann or Robin faces, an initial velocity, or every
        # condition when nothing was shipped): points drawn on their faces, penalised through their residual.
        self.sampled: list[tuple[Any, torch.Tensor]] = []
        for condition in task.pde.conditions:
            shipped = self.x_initial if condition.kind == "initial" else self.x_boundary
            if shipped is not None and len(shipped) and (condition.is_dirichlet or condition.is_initial_value):
                continue
            points = np.asarray(condition.sample(CONFIG["n_condition"], self.rng), dtype=np.float32)
            if len(points):
                self.sampled.append((condition, torch.as_tensor(points, device=device)))

    def resample_interior(self, pde: Any, n: int) -> None:
        points = np.asarray(pde.sample_interior(n, self.rng), dtype=np.float32)
        self.x_interior = torch.as_tensor(points, device=self.device)

    def _periodic_pairs(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """For each periodic direction, random points pinned to its lower and to its upper bound.

        Only the values are matched (u(low) = u(high)), not the derivatives: the weakest soft form.
        """
        lower, upper = self.bounds[:, 0], self.bounds[:, 1]
        pairs = []
        for dim in self.periodic_dims:
            points = lower + (upper - lower) * self.rng.random((CONFIG["n_periodic"], len(lower)))
            low, high = points.copy(), points.copy()
            low[:, dim], high[:, dim] = lower[dim], upper[dim]
            pairs.append(
                (
                    torch.as_tensor(low, dtype=torch.float32, device=self.device),
                    torch.as_tensor(high, dtype=torch.float32, device=self.device),
                )
            )
        return pairs


# ---------------------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------------------
def compute_losses(model: PINN, pde: Any, data: TrainingData, interior: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each term as a mean square (for logging), plus their weighted sum under ``"loss"`` (for training)."""
    x = interior.detach().requires_grad_(True)
    residual = pde.residual(x, model(x))
    terms: dict[str, torch.Tensor] = {"residual": torch.mean(residual**2)}
    total = CONFIG["w_residual"] * terms["residual"]

    if data.x_boundary is not None and data.u_boundary is not None and len(data.x_boundary):
        terms["boundary"] = torch.mean((model(data.x_boundary) - data.u_boundary) ** 2)
        total = total + CONFIG["w_boundary"] * terms["boundary"]
    if data.x_initial is not None and data.u_initial is not None and len(data.x_initial):
        terms["initial"] = torch.mean((model(data.x_initial) - data.u_initial) ** 2)
        total = total + CONFIG["w_initial"] * terms["initial"]
    for condition, points in data.sampled:
        inputs = points.detach().requires_grad_(condition.needs_grad)
        value = torch.mean(condition.residual(inputs, model(inputs)) ** 2)
        terms[condition.kind] = terms[condition.kind] + value if condition.kind in terms else value
        total = total + CONFIG["w_initial" if condition.kind == "initial" else "w_boundary"] * value
    if data.x_observed is not None and data.u_observed is not None and len(data.x_observed):
        terms["data"] = torch.mean((model(data.x_observed) - data.u_observed) ** 2)
        total = total + CONFIG["w_boundary"] * terms["data"]
    if data.x_periodic:
        terms["periodic"] = sum(torch.mean((model(low) - model(high)) ** 2) for low, high in data.x_periodic)
        total = total + CONFIG["w_periodic"] * terms["periodic"]

    terms["loss"] = total
    return terms


# ---------------------------------------------------------------------------------------------------------
# Training loop
# ---------------------------------------------------------------------------------------------------------
def _margin(task: Any) -> float:
    """Seconds kept back from the wall budget for prediction and returning the result."""
    wall = float(task.budget.wall_seconds)
    return min(CONFIG["margin_max_s"], max(CONFIG["margin_min_s"], CONFIG["margin_fraction"] * wall))


def train(task: Any, model: PINN, data: TrainingData) -> None:
    """Adam on the composite loss until the step cap or the time budget runs out, whichever is first;
    with ``lbfgs_fraction`` > 0 the last part of the budget goes to L-BFGS instead."""
    optimiser = torch.optim.Adam(model.parameters(), lr=CONFIG["lr"])
    generator = torch.Generator().manual_seed(int(task.seed))  # minibatch choice depends on the seed only
    margin = _margin(task)
    reserve = CONFIG["lbfgs_fraction"] * max(0.0, task.left(margin))  # kept for L-BFGS (seconds or steps)
    step, logged = 0, 0
    terms: dict[str, torch.Tensor] = {}
    while step < CONFIG["max_steps"] and task.left(margin) > reserve:
        step += 1
        if CONFIG["resample_every"] and step % CONFIG["resample_every"] == 0:
            data.resample_interior(task.pde, len(data.x_interior))
        interior = data.x_interior
        batch = CONFIG["batch_interior"]
        if batch and batch < len(interior):
            interior = interior[torch.randperm(len(interior), generator=generator)[:batch].to(interior.device)]

        optimiser.zero_grad(set_to_none=True)
        terms = compute_losses(model, task.pde, data, interior)
        terms["loss"].backward()
        optimiser.step()
        task.tick()

        if step % CONFIG["log_every"] == 0 or step == 1:
            task.log(step, **{name: value.item() for name, value in terms.items()})
            logged = step
    if step > logged:  # always report where training ended
        task.log(step, **{name: value.item() for name, value in terms.items()})
    if reserve > 0:
        finish_with_lbfgs(task, model, data, step, margin)


def finish_with_lbfgs(task: Any, model: PINN, data: TrainingData, step: int, margin: float) -> None:
    """Full-batch L-BFGS with a strong-Wolfe line search until the budget is spent; the best parameters seen
    are kept, so a diverging line search cannot leave the model worse than Adam did."""
    interior = data.x_interior
    if len(interior) > CONFIG["lbfgs_points"]:
        generator = torch.Generator().manual_seed(int(task.seed) + 1)
        interior = interior[torch.randperm(len(interior), generator=generator)[: CONFIG["lbfgs_points"]]]
    optimiser = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=20, history_size=50,
                                  line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        task.tick()  # one loss and gradient evaluation is one step of a step budget
        optimiser.zero_grad(set_to_none=True)
        loss = compute_losses(model, task.pde, data, interior)["loss"]
        loss.backward()
        return loss

    best = compute_losses(model, task.pde, data, interior)["loss"].item()
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    while task.left(margin) > 0:
        optimiser.step(closure)
        step += 20
        terms = compute_losses(model, task.pde, data, interior)
        loss = terms["loss"].item()
        if not np.isfinite(loss):
            break
        if loss < best:
            best, best_state = loss, {k: v.detach().clone() for k, v in model.state_dict().items()}
        task.log(step, **{name: value.item() for name, value in terms.items()})
    model.load_state_dict(best_state)


# ---------------------------------------------------------------------------------------------------------
# Prediction
# ---------------------------------------------------------------------------------------------------------
@torch.no_grad()
def predict(model: PINN, x: torch.Tensor, chunk: int = 65_536) -> torch.Tensor:
    """Evaluate in chunks so that large query grids do not exhaust memory."""
    model.eval()
    return torch.cat([model(x[i : i + chunk]) for i in range(0, x.shape[0], chunk)], dim=0)


def solve(task: Any) -> np.ndarray:
    """Entry point: build the network from the PDE's domain, train it on the physics loss, predict."""
    task.seed_everything()
    torch.set_num_threads(max(1, int(task.budget.cpu_threads)))
    device = torch.device(task.device)

    model = PINN(task.pde.bounds).to(device)
    data = TrainingData(task, device)

    train(task, model, data)

    x_query = torch.as_tensor(np.asarray(task.query_inputs["x"], dtype=np.float32), device=device)
    return predict(model, x_query).cpu().double().numpy().reshape(task.output_shape)

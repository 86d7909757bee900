"""Baseline candidate for operator-learning problems: an unstacked DeepONet.

The architecture follows Lu et al., "Learning nonlinear operators via DeepONet based on the universal
approximation theorem of operators", Nature Machine Intelligence 3 (2021): a *branch* MLP encodes the input
function through its values at fixed sensor locations, a *trunk* MLP encodes the query location ``y``, and
the output is the dot product of the two p-dimensional feature vectors plus a scalar bias,

    G(u)(y) ~= sum_k b_k(u(x_1), ..., u(x_m)) * t_k(y) + b0.

It is the root candidate a discovery campaign starts from, so it is deliberately plain (ReLU MLPs, Adam with
a constant learning rate, MSE). The parts a child candidate is likely to change:

    CONFIG           the hyper-parameters
    DeepONet         the model (branch net, trunk net, how they are combined)
    loss_fn          the training objective
    train / predict  the training loop and the inference pass

Contract: ``task.train = {"sensors": (m,), "u": (N, m), "y": (P, 1), "s": (N, P)}`` — every training function
is observed at the same P query points, so a minibatch of B functions yields a (B, P) output from one matrix
product of branch and trunk features. Predictions have shape ``(N_test, P_test)`` for
``task.query_inputs = {"u": (N_test, m), "y": (P_test, 1)}``.
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
    "branch_hidden": [40, 40],  # hidden layer widths of the branch net
    "trunk_hidden": [40, 40],  # hidden layer widths of the trunk net
    "latent": 40,  # p, the number of basis functions shared by branch and trunk
    "lr": 1e-3,  # Adam learning rate (constant)
    "batch_size": 64,  # input functions per minibatch (each with all of its P query points)
    "max_steps": 20_000,  # hard cap on optimiser steps
    "log_every": 100,  # call task.log every this many steps
    "margin_fraction": 0.1,  # fraction of the wall budget kept back for prediction...
    "margin_min_s": 0.3,  # ...but at least this many seconds...
    "margin_max_s": 5.0,  # ...and at most this many
}


# ---------------------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------------------
def mlp(in_dim: int, hidden: list[int], out_dim: int) -> nn.Sequential:
    """ReLU MLP; the last layer is linear so the features can take either sign."""
    layers: list[nn.Module] = []
    previous = in_dim
    for width in hidden:
        layers += [nn.Linear(previous, width), nn.ReLU()]
        previous = width
    layers.append(nn.Linear(previous, out_dim))
    return nn.Sequential(*layers)


class DeepONet(nn.Module):
    """Unstacked DeepONet: one branch net producing all p coefficients, one trunk net producing p bases."""

    def __init__(self, n_sensors: int, y_dim: int) -> None:
        super().__init__()
        p = CONFIG["latent"]
        self.branch = mlp(n_sensors, CONFIG["branch_hidden"], p)
        self.trunk = mlp(y_dim, CONFIG["trunk_hidden"], p)
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """u: (B, m) sensor values, y: (P, d) query points -> (B, P)."""
        return self.branch(u) @ self.trunk(y).T + self.bias


class Scaler:
    """A single scalar mean/std (not per column): sensor values and outputs are samples of one function
    space, so per-sensor scaling would distort the shape of each function."""

    def __init__(self, data: np.ndarray, per_column: bool = False) -> None:
        axis = 0 if per_column else None
        self.mean = np.mean(data, axis=axis, keepdims=per_column)
        std = np.std(data, axis=axis, keepdims=per_column)
        self.std = np.where(std > 0, std, 1.0)

    def forward(self, data: np.ndarray) -> np.ndarray:
        return (data - self.mean) / self.std

    def inverse(self, data: np.ndarray) -> np.ndarray:
        return data * self.std + self.mean


# ---------------------------------------------------------------------------------------------------------
# Loss
# ---------------------------------------------------------------------------------------------------------
def loss_fn(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all (function, query point) pairs, in standardised units."""
    return torch.mean((prediction - target) ** 2)


# ---------------------------------------------------------------------------------------------------------
# Training loop
# ---------------------------------------------------------------------------------------------------------
def _margin(task: Any) -> float:
    """Seconds kept back from the wall budget for prediction and returning the result."""
    wall = float(task.budget.wall_seconds)
    return min(CONFIG["margin_max_s"], max(CONFIG["margin_min_s"], CONFIG["margin_fraction"] * wall))


def train(task: Any, model: DeepONet, u: torch.Tensor, y: torch.Tensor, s: torch.Tensor) -> None:
    """Minibatch Adam over input functions until the step cap or the time budget runs out."""
    optimiser = torch.optim.Adam(model.parameters(), lr=CONFIG["lr"])
    n = u.shape[0]
    batch = min(CONFIG["batch_size"], n)
    generator = torch.Generator().manual_seed(int(task.seed))  # minibatch order depends on the seed only
    margin = _margin(task)
    order = torch.randperm(n, generator=generator)
    cursor = 0
    step, logged = 0, 0
    while step < CONFIG["max_steps"] and task.left(margin) > 0:  # seconds, or steps under a step budget
        step += 1
        if cursor + batch > n:  # new epoch: reshuffle
            order = torch.randperm(n, generator=generator)
            cursor = 0
        index = order[cursor : cursor + batch].to(u.device)
        cursor += batch

        optimiser.zero_grad(set_to_none=True)
        loss = loss_fn(model(u[index], y), s[index])
        loss.backward()
        optimiser.step()
        task.tick()

        if step % CONFIG["log_every"] == 0 or step == 1:
            task.log(step, loss=loss.item())
            logged = step
    if step > logged:  # always report where training ended
        task.log(step, loss=loss.item())


# ---------------------------------------------------------------------------------------------------------
# Prediction
# ---------------------------------------------------------------------------------------------------------
@torch.no_grad()
def predict(model: DeepONet, u: torch.Tensor, y: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """Evaluate in chunks of input functions so that large test sets do not exhaust memory."""
    model.eval()
    return torch.cat([model(u[i : i + chunk], y) for i in range(0, u.shape[0], chunk)], dim=0)


def solve(task: Any) -> np.ndarray:
    """Entry point: scale, fit branch and trunk jointly, predict every query function at every y."""
    task.seed_everything()
    torch.set_num_threads(max(1, int(task.budget.cpu_threads)))
    device = torch.device(task.device)

    u_raw = np.asarray(task.train["u"], dtype=np.float64)
    y_raw = np.asarray(task.train["y"], dtype=np.float64)
    y_raw = y_raw[:, None] if y_raw.ndim == 1 else y_raw
    s_raw = np.asarray(task.train["s"], dtype=np.float64).reshape(u_raw.shape[0], y_raw.shape[0])
    u_query_raw = np.asarray(task.query_inputs["u"], dtype=np.float64).reshape(-1, u_raw.shape[1])
    y_query_raw = np.asarray(task.query_inputs["y"], dtype=np.float64).reshape(-1, y_raw.shape[1])

    u_scaler, s_scaler = Scaler(u_raw), Scaler(s_raw)
    y_scaler = Scaler(y_raw, per_column=True)  # coordinates may have different units per axis

    def to_tensor(array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(array, dtype=torch.float32, device=device)

    u = to_tensor(u_scaler.forward(u_raw))
    y = to_tensor(y_scaler.forward(y_raw))
    s = to_tensor(s_scaler.forward(s_raw))
    model = DeepONet(u.shape[1], y.shape[1]).to(device)

    train(task, model, u, y, s)

    u_query = to_tensor(u_scaler.forward(u_query_raw))
    y_query = to_tensor(y_scaler.forward(y_query_raw))
    prediction = predict(model, u_query, y_query)
    return s_scaler.inverse(prediction.cpu().double().numpy()).reshape(task.output_shape)

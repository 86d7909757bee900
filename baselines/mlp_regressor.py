"""Baseline candidate for regression problems: a plain multilayer perceptron fitted by Adam on the MSE.

This is the root candidate that a discovery campaign starts from, so it is deliberately ordinary:
standardised inputs and outputs, a ReLU MLP, a constant learning rate, minibatch Adam, and nothing tuned to
a particular problem. Everything a child candidate is likely to change lives in one of four places:

    CONFIG          the hyper-parameters (architecture, optimiser, schedule, logging)
    build_model     the network
    loss_fn         the training objective
    train / predict the training loop and the inference pass

Contract: ``solve(task)`` receives ``task.train = {"x": (n, d), "y": (n,)}`` and must return predictions of
shape ``task.output_shape`` at ``task.query_inputs["x"]``. Training stops on whichever comes first: the step
cap (``CONFIG["max_steps"]``), or the wall budget minus a safety margin kept for prediction. With the same
seed and a binding step cap the result is bit-for-bit reproducible on CPU.
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
    "width": 64,  # neurons per hidden layer
    "depth": 3,  # number of hidden layers
    "lr": 1e-3,  # Adam learning rate (kept constant: no schedule that depends on wall time)
    "batch_size": 256,  # minibatch size; the full set is used when it is smaller
    "max_steps": 20_000,  # hard cap on optimiser steps
    "log_every": 100,  # call task.log every this many steps
    "margin_fraction": 0.1,  # fraction of the wall budget kept back for prediction and process exit...
    "margin_min_s": 0.3,  # ...but at least this many seconds...
    "margin_max_s": 5.0,  # ...and at most this many
}


# ---------------------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------------------
def build_model(in_dim: int, out_dim: int) -> nn.Module:
    """A fully connected ReLU network with PyTorch's default initialisation."""
    layers: list[nn.Module] = []
    width = CONFIG["width"]
    previous = in_dim
    for _ in range(CONFIG["depth"]):
        layers += [nn.Linear(previous, width), nn.ReLU()]
        previous = width
    layers.append(nn.Linear(previous, out_dim))
    return nn.Sequential(*layers)


class Standardiser:
    """Zero-mean, unit-variance scaling fitted on the training set.

    Scaling matters because Adam's step size and the default initialisation both assume O(1) inputs and
    outputs; without it the fit quality would depend on the units the problem happens to be written in.
    """

    def __init__(self, data: np.ndarray) -> None:
        self.mean = data.mean(axis=0, keepdims=True)
        std = data.std(axis=0, keepdims=True)
        self.std = np.where(std > 0, std, 1.0)

    def forward(self, data: np.ndarray) -> np.ndarray:
        return (data - self.mean) / self.std

    def inverse(self, data: np.ndarray) -> np.ndarray:
        return data * self.std + self.mean


# ---------------------------------------------------------------------------------------------------------
# Loss
# ---------------------------------------------------------------------------------------------------------
def loss_fn(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error in standardised units."""
    return torch.mean((prediction - target) ** 2)


# ---------------------------------------------------------------------------------------------------------
# Training loop
# ---------------------------------------------------------------------------------------------------------
def _margin(task: Any) -> float:
    """Seconds kept back from the wall budget for prediction and returning the result."""
    wall = float(task.budget.wall_seconds)
    return min(CONFIG["margin_max_s"], max(CONFIG["margin_min_s"], CONFIG["margin_fraction"] * wall))


def train(task: Any, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    """Minibatch Adam until the step cap or the time budget runs out, whichever is first."""
    optimiser = torch.optim.Adam(model.parameters(), lr=CONFIG["lr"])
    n = x.shape[0]
    batch = min(CONFIG["batch_size"], n)
    # A dedicated generator keeps the minibatch order a function of the seed alone.
    generator = torch.Generator().manual_seed(int(task.seed))
    margin = _margin(task)
    order = torch.randperm(n, generator=generator)
    cursor = 0
    step, logged = 0, 0
    while step < CONFIG["max_steps"] and task.left(margin) > 0:  # seconds, or steps under a step budget
        step += 1
        if cursor + batch > n:  # new epoch: reshuffle
            order = torch.randperm(n, generator=generator)
            cursor = 0
        index = order[cursor : cursor + batch].to(x.device)
        cursor += batch

        optimiser.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[index]), y[index])
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
def predict(model: nn.Module, x: torch.Tensor, chunk: int = 65_536) -> torch.Tensor:
    """Evaluate in chunks so that large query sets do not exhaust memory."""
    model.eval()
    return torch.cat([model(x[i : i + chunk]) for i in range(0, x.shape[0], chunk)], dim=0)


def solve(task: Any) -> np.ndarray:
    """Entry point: standardise, fit, predict, undo the output scaling."""
    task.seed_everything()
    torch.set_num_threads(max(1, int(task.budget.cpu_threads)))
    device = torch.device(task.device)

    x_raw = np.asarray(task.train["x"], dtype=np.float64).reshape(len(task.train["x"]), -1)
    y_raw = np.asarray(task.train["y"], dtype=np.float64).reshape(len(x_raw), -1)
    x_query_raw = np.asarray(task.query_inputs["x"], dtype=np.float64).reshape(-1, x_raw.shape[1])

    x_scaler, y_scaler = Standardiser(x_raw), Standardiser(y_raw)

    def to_tensor(array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(array, dtype=torch.float32, device=device)

    x, y = to_tensor(x_scaler.forward(x_raw)), to_tensor(y_scaler.forward(y_raw))
    model = build_model(x.shape[1], y.shape[1]).to(device)

    train(task, model, x, y)

    prediction = predict(model, to_tensor(x_scaler.forward(x_query_raw))).cpu().double().numpy()
    return y_scaler.inverse(prediction).reshape(task.output_shape)

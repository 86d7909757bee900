"""Shared fixtures for the offline-team tests: the analyses of the built-in problems (no targets involved)."""

from __future__ import annotations

import pytest

from agents.offline.analysis import DataAnalysis, analyze_data


@pytest.fixture(scope="session")
def analyses() -> dict[str, DataAnalysis]:
    from problems.registry import builtin_names, get_problem

    out = {}
    for name in builtin_names():
        problem = get_problem(name)
        data = problem.load()
        out[name] = analyze_data(problem.spec, data.train, data.query_inputs)
    return out


@pytest.fixture(scope="session")
def specs() -> dict:
    from problems.registry import builtin_names, get_problem

    return {name: get_problem(name).spec for name in builtin_names()}


@pytest.fixture(scope="session", autouse=True)
def warm_torch() -> None:
    """Take torch's lazy imports up front, as the sandbox harness does before ``solve`` (the first optimiser
    pulls in dynamo, seconds on a loaded machine), so tiny budgets measure the candidate, not the import."""
    import torch

    net = torch.nn.Linear(2, 1)
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
    net(torch.zeros(1, 2)).sum().backward()
    optimiser.step()
    torch.optim.LBFGS(net.parameters())


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: runs a design on a real problem at its default budget")

"""Step budgets in the sandbox: the task's clock in steps, steps reported back, the same score on any load."""

from __future__ import annotations

import numpy as np
import pytest

from sandbox.runtime.task import Budget, Task
from tests.load import busy_loops

STEP_LOOP = '''
import numpy as np
import torch

def solve(task):
    task.seed_everything()
    x = torch.as_tensor(task.train["x"], dtype=torch.float32)
    y = torch.as_tensor(task.train["y"], dtype=torch.float32).reshape(-1, 1)
    model = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    while task.left(0.5) > 0:
        opt.zero_grad()
        loss = torch.mean((model(x) - y) ** 2)
        loss.backward()
        opt.step()
        task.tick()
    with torch.no_grad():
        q = torch.as_tensor(task.query_inputs["x"], dtype=torch.float32)
        return model(q).numpy().reshape(task.output_shape)
'''

LOGS_ONLY = '''
import numpy as np

def solve(task):
    for step in range(1, 8):
        task.log(step * 3, loss=1.0 / step)
    return np.zeros(task.output_shape)
'''


def _task(max_steps: int | None) -> Task:
    return Task(name="t", kind="regression", description="", train={}, query_inputs={}, output_shape=(1,),
                budget=Budget(wall_seconds=100.0, max_steps=max_steps))


def test_the_budget_clock_counts_steps_under_a_step_budget_and_seconds_otherwise():
    stepped = _task(50)
    assert stepped.budget.unit == "steps" and stepped.left(10.0) == 50.0 and stepped.spent() == 0.0
    stepped.tick()
    stepped.tick(9)
    assert stepped.spent() == 10.0 and stepped.left(10.0) == 40.0  # the margin is for seconds only
    timed = _task(None)
    timed.tick(1000)  # counted and reported, but not the clock
    assert timed.budget.unit == "seconds" and timed.spent() < 5.0 and 90.0 < timed.left(5.0) <= 95.0
    assert timed.steps_taken == 1000


def test_a_step_budget_gives_the_same_score_on_an_idle_and_a_loaded_machine(evaluator, example_problem):
    budget = {"max_steps": 400, "wall_seconds": 120.0}
    idle = evaluator.evaluate(STEP_LOOP, example_problem, seed=3, budget=budget)
    with busy_loops(3):
        loaded = evaluator.evaluate(STEP_LOOP, example_problem, seed=3, budget=budget)
    assert idle.status == loaded.status == "succeeded", (idle.reason, loaded.reason)
    assert idle.steps == loaded.steps == 400 and idle.budget["max_steps"] == 400
    assert idle.score == loaded.score  # bit for bit: the steps, not the seconds, decide the training
    assert np.array_equal(np.load(_io(idle.predictions_npy)), np.load(_io(loaded.predictions_npy)))


def test_a_wall_budget_candidate_reports_its_logged_steps(evaluator, example_problem):
    result = evaluator.evaluate(LOGS_ONLY, example_problem, seed=0, budget={"wall_seconds": 20.0})
    assert result.status == "succeeded" and result.steps == 21 and result.budget["max_steps"] is None
    assert result.cpu_seconds > 0 and "steps" in result.summary()


def _io(data: bytes | None):
    import io

    assert data is not None
    return io.BytesIO(data)


@pytest.fixture(scope="module")
def example_problem():
    from problems.registry import get_problem
    from pathlib import Path

    return get_problem(str(Path(__file__).resolve().parents[2] / "problems" / "examples" / "damped_oscillator"))


def test_a_forged_step_count_costs_the_candidate_nothing_but_the_count(evaluator, example_problem):
    forged = "import numpy as np\n\ndef solve(task):\n    task.steps_taken = 'many'\n    task._last_logged_step = object()\n" \
             "    return np.zeros(task.output_shape)\n"
    result = evaluator.evaluate(forged, example_problem, seed=0, budget={"wall_seconds": 20.0})
    assert result.status == "succeeded" and result.steps == 0

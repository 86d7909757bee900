"""Measure each baseline on the built-in problems at their default budgets (in-process, one CPU thread).

Usage: ``python -m tests.baselines.measure_baselines [problem ...] [key=value ...]``; ``key=value`` pairs
override the baseline's CONFIG (values parsed as JSON), for quick what-if runs. Prints one line per problem
with the relative L2 error, the number of optimiser steps and the wall time used. Not a test: it takes minutes.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from tests.baselines.helpers import Recorder, load_baseline, relative_l2, task_from_problem


def measure(name: str, seed: int = 0, overrides: dict | None = None) -> dict[str, float | int | str]:
    sink = Recorder()
    task, targets = task_from_problem(name, seed=seed, sink=sink)
    module = load_baseline(task.kind)
    module.CONFIG.update(overrides or {})
    started = time.monotonic()
    prediction = np.asarray(module.solve(task))
    elapsed = time.monotonic() - started
    last = sink.records[-1] if sink.records else {}
    return {
        "problem": name,
        "kind": task.kind,
        "rel_l2": relative_l2(prediction, targets),
        "steps": int(last.get("step", 0)),
        "loss": float(last.get("loss", float("nan"))),
        "seconds": round(elapsed, 1),
        "budget": task.budget.wall_seconds,
    }


def main(arguments: list[str]) -> None:
    from problems.registry import builtin_names

    names = [a for a in arguments if "=" not in a]
    overrides = {k: json.loads(v) for k, v in (a.split("=", 1) for a in arguments if "=" in a)}
    for name in names or builtin_names():
        print(measure(name, overrides=overrides), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

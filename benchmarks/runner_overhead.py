"""Overhead of one isolated evaluation over the same training run in-process.

The candidate trains a fixed workload (a fixed number of Adam steps, not a time budget), so the difference
between the isolated wall time (spawn, jail, interpreter, torch import, array transfer, guards, saving and
scoring the predictions) and the in-process ``solve`` time is the runner's overhead. Reported as the median
over several runs, for cold starts and for warm (pre-imported) workers.

    python benchmarks/runner_overhead.py [--problem discontinuous_fit1d] [--repeats 7] [--steps 300] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIXED_WORK = '''
import numpy as np
import torch

STEPS = {steps}

def solve(task):
    torch.manual_seed(task.seed)
    x = torch.tensor(task.train["x"], dtype=torch.float32)
    y = torch.tensor(task.train["y"], dtype=torch.float32).reshape(len(x), -1)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 32), torch.nn.Tanh(), torch.nn.Linear(32, y.shape[1]))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for step in range(STEPS):
        opt.zero_grad()
        loss = ((net(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        if step % 50 == 0:
            task.log(step, loss=loss.item())
    with torch.no_grad():
        q = torch.tensor(task.query_inputs["x"], dtype=torch.float32)
        return net(q).numpy().reshape(task.output_shape)
'''


def in_process_seconds(code: str, problem, data, seed: int) -> float:
    """Time ``solve`` alone, in this process, with torch already imported."""
    from sandbox.evaluate import budget_from_problem
    from sandbox.runtime.task import Task

    namespace: dict = {}
    exec(compile(code, "candidate", "exec"), namespace)
    task = Task(name=problem.spec.name, kind=problem.spec.kind, description=problem.spec.description,
                train=data.train, query_inputs=data.query_inputs, output_shape=tuple(data.targets.shape),
                budget=budget_from_problem(problem), seed=seed, scratch_dir=Path(tempfile.mkdtemp()))
    start = time.perf_counter()
    namespace["solve"](task)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", default="discontinuous_fit1d")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import torch

    # The same conditions as the sandbox: one thread (the default budget) and torch's lazy imports done.
    torch.set_num_threads(1)

    from problems.registry import get_problem
    from sandbox.evaluate import Evaluator

    problem = get_problem(args.problem)
    if problem.spec.kind not in ("regression", "pinn"):
        raise SystemExit("pick a problem with query input 'x' (a regression or PINN problem)")
    work = tempfile.mkdtemp(prefix="overhead-")
    data = problem.load(Path(work) / "cache")
    code = FIXED_WORK.format(steps=args.steps)

    in_proc = [in_process_seconds(code, problem, data, seed) for seed in range(args.repeats)]
    results: dict[str, dict[str, float]] = {}
    for mode, warm in (("cold", 0), ("warm", 1)):
        totals, startups = [], []
        with Evaluator(Path(work) / f"runs-{mode}", Path(work) / "cache", warm_workers=warm) as ev:
            for seed in range(args.repeats):
                if warm:
                    ev.runner._pool.wait_ready(1, timeout=120)
                start = time.perf_counter()
                result = ev.evaluate(code, problem, seed=seed)
                totals.append(time.perf_counter() - start)
                startups.append(result.startup_seconds)
                if result.status != "succeeded":
                    raise SystemExit(f"{mode} run failed: {result.reason}")
                backend = result.protections.get("backend")
        results[mode] = {
            "isolated_median_s": statistics.median(totals),
            "startup_median_s": statistics.median(startups),
            "overhead_median_s": statistics.median(totals) - statistics.median(in_proc),
        }
    summary = {"problem": args.problem, "steps": args.steps, "repeats": args.repeats, "backend": backend,
               "in_process_median_s": statistics.median(in_proc), **{f"{k}": v for k, v in results.items()}}
    if args.json:
        print(json.dumps(summary))
        return
    print(f"problem {args.problem}, {args.steps} Adam steps, median of {args.repeats}, backend {backend}")
    print(f"  in-process solve():        {summary['in_process_median_s']:.3f} s")
    for mode in ("cold", "warm"):
        r = results[mode]
        print(f"  isolated, {mode:<4} start:     {r['isolated_median_s']:.3f} s  "
              f"(start-up {r['startup_median_s']:.3f} s, overhead {r['overhead_median_s']:.3f} s)")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

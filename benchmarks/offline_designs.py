"""Evaluate offline-team designs in-process on the built-in problems and print the relative L2 error.

This is the bench used to find which designs work within a problem's default budget (one CPU thread): each
design is rendered to a candidate module, imported fresh, and run on the same ``Task`` the sandbox would
build, and its predictions are scored against the hidden targets here, in-process.

    python benchmarks/offline_designs.py --problem convection1d --designs root,transport
    python benchmarks/offline_designs.py --problem allen_cahn1d --designs all --wall 60 --seeds 0,1
    python benchmarks/offline_designs.py --problem helmholtz2d --design-json '{"kind": "pinn", ...}'
    python benchmarks/offline_designs.py --problem convection1d --chain 3   # root, then 3 greedy proposals

``--designs all`` runs every catalogue entry that fits the problem's kind. ``--chain N`` mimics a tiny
campaign: score the root, then let the proposer/critic debate a child of the best design so far, N times.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.offline.analysis import analyze_data
from agents.offline.catalogue import catalogue
from agents.offline.design import Design
from agents.offline.render import render_candidate
from agents.offline.roles import root_design


def load_module(source: str, name: str) -> Any:
    """Import rendered source as a brand-new module (as the sandbox would)."""
    directory = Path(tempfile.mkdtemp(prefix="offline-design-"))
    path = directory / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def warm_torch() -> None:
    """Take torch's lazy imports once (the first optimiser pulls in dynamo), as the sandbox harness does before
    ``solve``, so that the first design measured does not pay seconds of its budget for them."""
    import torch

    net = torch.nn.Linear(2, 1)
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
    net(torch.zeros(1, 2)).sum().backward()
    optimiser.step()
    torch.optim.LBFGS(net.parameters())


def evaluate(design: Design, problem_name: str, seed: int = 0, wall: float | None = None) -> dict[str, Any]:
    """Render, run and score one design; returns the score, the logs and the wall time used."""
    warm_torch()
    from problems.registry import get_problem
    from sandbox.runtime.task import Budget, Task

    problem = get_problem(problem_name)
    data = problem.load()
    budget = problem.spec.budget.model_dump()
    if wall is not None:
        budget["wall_seconds"] = wall
    logs: list[dict[str, Any]] = []
    module = load_module(render_candidate(design), f"candidate_{design.key()}")
    task = Task(
        name=problem.spec.name,
        kind=problem.spec.kind,
        description=problem.spec.description,
        train=data.train,
        query_inputs=data.query_inputs,
        output_shape=data.output_shape,
        budget=Budget(**budget),
        seed=seed,
        device="cpu",
        metric=problem.spec.metric,
        pde=problem.build_pde(),
        _sink=logs.append,
    )
    started = time.monotonic()
    failure = None
    try:
        prediction = np.asarray(module.solve(task), dtype=np.float64).reshape(data.targets.shape)
        error = float(np.linalg.norm(prediction - data.targets) / np.linalg.norm(data.targets))
        if not np.isfinite(error):
            failure, error = "non-finite predictions", None
    except Exception as exc:  # noqa: BLE001 - a failed design is a result too
        failure, error = f"{type(exc).__name__}: {exc}", None
    return {
        "score": error,
        "seconds": round(time.monotonic() - started, 1),
        "budget": budget["wall_seconds"],
        "steps": logs[-1]["step"] if logs else 0,
        "logs": logs,
        "failure": failure,
    }


def run_chain(problem_name: str, steps: int, seed: int, wall: float | None) -> None:
    """Root, then ``steps`` debates, each on the best design so far (a greedy one-child-at-a-time campaign).

    Like the campaign engine, the proposer sees the parent's result analysis (text), the children the parent
    already has (siblings) and the other children of the parent's own parent (uncles).
    """
    from agents.offline.roles import ProposalContext, SiblingSummary, analyze_result, debate
    from problems.registry import get_problem

    problem = get_problem(problem_name)
    data = problem.load()
    analysis = analyze_data(problem.spec, data.train, data.query_inputs)
    best = root_design(problem.spec.kind, analysis)
    result = evaluate(best, problem_name, seed, wall)
    best_score = result["score"]
    best_report = analyze_result(best, best_score, None, result["logs"], result["failure"])
    print(f"root: {best_score}  ({best.describe()})", flush=True)
    siblings: list[SiblingSummary] = []
    uncles: list[SiblingSummary] = []
    for iteration in range(1, steps + 1):
        context = ProposalContext(
            problem_name=problem.spec.name,
            kind=problem.spec.kind,
            description=problem.spec.description,
            pde=problem.spec.pde,
            budget_seconds=problem.spec.budget.wall_seconds,
            data_analysis=analysis,
            parent_design=best,
            parent_score=best_score,
            parent_analysis=best_report,
            siblings=siblings,
            uncles=uncles,
            iteration=iteration,
            seed=seed,
        )
        outcome = debate(context)
        child = outcome.final.design
        result = evaluate(child, problem_name, seed, wall)
        score = result["score"]
        report = analyze_result(
            child, score, best_score, result["logs"], result["failure"], parent_design=best
        )
        print(f"iteration {iteration}: {score}  [{outcome.final.title}] {child.describe()}", flush=True)
        entry = SiblingSummary(
            summary=child.describe(),
            score=score,
            status="ok" if score is not None else "failed",
            key=child.key(),
            changes=outcome.final.changes,
            design=child,
        )
        if score is not None and (best_score is None or score < best_score):
            uncles = siblings
            siblings = []
            best, best_score, best_report = child, score, report
        else:
            siblings = siblings + [entry]
    print(f"champion: {best_score}  ({best.describe()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", required=True)
    parser.add_argument("--designs", default="root", help="comma-separated catalogue names, 'all', or 'root'")
    parser.add_argument("--design-json", default=None, help="a Design as JSON (overrides --designs)")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--wall", type=float, default=None, help="override the problem's wall budget (s)")
    parser.add_argument("--chain", type=int, default=0, help="run a greedy proposal chain of this length")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from problems.registry import get_problem

    seeds = [int(s) for s in args.seeds.split(",") if s]
    if args.chain:
        run_chain(args.problem, args.chain, seeds[0], args.wall)
        return
    problem = get_problem(args.problem)
    if args.design_json:
        designs = {"custom": Design.model_validate_json(args.design_json)}
    else:
        data = problem.load()
        analysis = analyze_data(problem.spec, data.train, data.query_inputs)
        available = {
            "root": root_design(problem.spec.kind, analysis),
            **catalogue(problem.spec.kind, analysis),
        }
        names = list(available) if args.designs == "all" else [n for n in args.designs.split(",") if n]
        unknown = [n for n in names if n not in available]
        if unknown:
            parser.error(
                f"unknown design(s) {unknown}; available for {problem.spec.kind}: {sorted(available)}"
            )
        designs = {name: available[name] for name in names}
    rows = []
    for name, design in designs.items():
        scores = []
        for seed in seeds:
            result = evaluate(design, args.problem, seed, args.wall)
            scores.append(result["score"])
            print(
                f"{args.problem} {name} seed {seed}: rel_l2={result['score']} steps={result['steps']} "
                f"{result['seconds']}s/{result['budget']}s {result['failure'] or ''}",
                file=sys.stderr,
                flush=True,
            )
        valid = [s for s in scores if s is not None]
        rows.append(
            {
                "problem": args.problem,
                "design": name,
                "key": design.key(),
                "summary": design.describe(),
                "scores": scores,
                "median": statistics.median(valid) if valid else None,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        for row in rows:
            median = f"{row['median']:.3e}" if row["median"] is not None else "failed"
            print(f"{row['problem']:<20} {row['design']:<22} {median:>10}  {row['summary']}")


if __name__ == "__main__":
    main()

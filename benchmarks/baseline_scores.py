"""Score the shipped baseline candidates on every built-in problem at its default budget, isolated.

These are the root solutions a discovery campaign starts from; the literature column is what the same
class of method reaches in the papers cited in each problem's description.

    python benchmarks/baseline_scores.py [--problems a,b|DIR,...] [--seeds 0] [--variant vanilla|tuned] [--json]

``--variant tuned`` scores the simple expert baseline instead (``baselines.tuned_baseline_source``: the PINN
baseline with an L-BFGS finish, resampling and a wider net; other kinds unchanged).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default="", help="comma-separated names (default: all built-ins)")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds")
    parser.add_argument("--data-dir", default=None, help="where to cache references (default: a temp dir)")
    parser.add_argument("--variant", choices=("vanilla", "tuned"), default="vanilla")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from baselines import baseline_path, tuned_baseline_source
    from problems.registry import builtin_names, get_problem
    from sandbox.evaluate import Evaluator

    names = [n for n in args.problems.split(",") if n] or builtin_names()
    seeds = [int(s) for s in args.seeds.split(",") if s]
    root = Path(args.data_dir or tempfile.mkdtemp(prefix="baseline-scores-"))
    rows = []
    with Evaluator(root / "runs", root / "cache", warm_workers=1) as evaluator:
        for name in names:
            problem = get_problem(name)
            path = baseline_path(problem.spec.kind)
            source = tuned_baseline_source(problem.spec.kind) if args.variant == "tuned" else path.read_text()
            scores, walls, failures = [], [], []
            for seed in seeds:
                result = evaluator.evaluate(source, problem, seed=seed)
                walls.append(result.wall_seconds)
                if result.score is None:
                    failures.append(result.reason)
                else:
                    scores.append(result.score)
                print(f"{name} seed {seed}: {result.status} score={result.score} wall={result.wall_seconds:.1f}s",
                      file=sys.stderr)
            literature = "; ".join(f"{k}: {v}" for k, v in problem.spec.literature.items())
            rows.append({
                "problem": name, "kind": problem.spec.kind,
                "baseline": path.name + (" (tuned)" if args.variant == "tuned" else ""), "metric": problem.spec.metric,
                "budget_s": problem.spec.budget.wall_seconds, "seeds": seeds,
                "score_median": statistics.median(scores) if scores else None,
                "score_min": min(scores) if scores else None, "score_max": max(scores) if scores else None,
                "wall_median_s": statistics.median(walls), "failures": failures, "literature": literature,
            })
    if args.json:
        print(json.dumps({"baselines": rows}))
        return
    print("| problem | baseline | budget | rel. L2 (median over seeds) | wall | literature |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        score = "failed" if r["score_median"] is None else f"{r['score_median']:.3e}"
        if r["score_median"] is not None and len(r["seeds"]) > 1:
            score += f" ({r['score_min']:.2e}..{r['score_max']:.2e})"
        print(f"| {r['problem']} | {r['baseline']} | {r['budget_s']:g} s | {score} | {r['wall_median_s']:.1f} s "
              f"| {r['literature']} |")
    print(json.dumps({"baselines": rows}))


if __name__ == "__main__":
    main()

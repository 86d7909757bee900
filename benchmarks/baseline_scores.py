"""Score the shipped baseline candidates on every built-in problem at its default budget, isolated.

These are the root solutions a discovery campaign starts from; the literature column is what the same
class of method reaches in the papers cited in each problem's description.

    python benchmarks/baseline_scores.py [--problems a,b|DIR,...] [--seeds 0] [--variant vanilla|tuned|expert] [--json]

``--variant tuned`` scores the simple expert baseline instead (``baselines.tuned_baseline_source``: the PINN
baseline with an L-BFGS finish, resampling and a wider net; other kinds unchanged).

``--variant expert`` scores, on regression and operator problems (default: every built-in one and every
shipped example under ``problems/examples``), three candidates side by side, each isolated in the sandbox:
the expert baseline (``baselines/random_feature_ridge.py``: random-feature ridge regression, hyper-parameters
chosen on held-out training data), the best linear map (the same file without random features) and the
shipped vanilla baseline (MLP / DeepONet; ``--skip-vanilla`` leaves it out). PINN problems are skipped there
(their expert baseline is ``--variant tuned``).
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
    parser.add_argument("--variant", choices=("vanilla", "tuned", "expert"), default="vanilla")
    parser.add_argument("--skip-vanilla", action="store_true", help="--variant expert: leave out the vanilla baseline")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.variant == "expert":
        run_expert(args)
        return

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


DATA_KINDS = ("regression", "operator")
FAMILY_NAMES = ("linear", "fourier", "tanh")  # baselines/random_feature_ridge.py FAMILIES, by logged index


def default_expert_problems() -> list[str]:
    """Every built-in regression/operator problem, then every shipped example of those kinds."""
    from problems.registry import BUILTINS, get_problem

    names = [name for name, factory in BUILTINS.items() if factory().spec.kind in DATA_KINDS]
    examples = ROOT / "problems" / "examples"
    for directory in sorted(p for p in examples.iterdir() if (p / "problem.yaml").is_file()):
        if get_problem(directory).spec.kind in DATA_KINDS:
            names.append(str(directory.relative_to(ROOT)))
    return names


def _chosen_model(logs: list[dict]) -> str:
    """The model the expert baseline chose, from its last training-log record."""
    if not logs or "family" not in logs[-1]:
        return "?"
    last = logs[-1]
    family = FAMILY_NAMES[int(last["family"])] if int(last["family"]) < len(FAMILY_NAMES) else "?"
    if family == "linear":
        return f"linear, ridge {last.get('ridge', float('nan')):.0e}"
    return (f"{family}, scale {last.get('scale', float('nan')):g}, {int(last.get('width', 0))} features, "
            f"ridge {last.get('ridge', float('nan')):.0e}")


def run_expert(args: argparse.Namespace) -> None:
    """Expert baseline, linear map and vanilla baseline on each regression/operator problem."""
    import os

    from baselines import baseline_path, expert_baseline_path, expert_baseline_source, linear_map_source
    from problems.registry import get_problem
    from sandbox.evaluate import Evaluator

    names = [n for n in args.problems.split(",") if n] or default_expert_problems()
    seeds = [int(s) for s in args.seeds.split(",") if s]
    root = Path(args.data_dir or tempfile.mkdtemp(prefix="baseline-scores-"))
    load_before = os.getloadavg()
    rows = []
    with Evaluator(root / "runs", root / "cache", warm_workers=0 if args.skip_vanilla else 1) as evaluator:
        for name in names:
            problem = get_problem(name)
            kind = problem.spec.kind
            if kind not in DATA_KINDS:
                print(f"{name}: kind {kind!r} has no expert baseline here (use --variant tuned); skipped",
                      file=sys.stderr)
                continue
            candidates = {"expert": expert_baseline_source(kind), "linear": linear_map_source(kind)}
            if not args.skip_vanilla:
                candidates["vanilla"] = baseline_path(kind).read_text()
            row: dict = {"problem": problem.spec.name, "path": name, "kind": kind, "metric": problem.spec.metric,
                         "budget_s": problem.spec.budget.wall_seconds, "seeds": seeds,
                         "expert_baseline": expert_baseline_path(kind).name,
                         "vanilla_baseline": None if args.skip_vanilla else baseline_path(kind).name}
            for label, source in candidates.items():
                scores, solves, walls, failures, chosen = [], [], [], [], []
                for seed in seeds:
                    result = evaluator.evaluate(source, problem, seed=seed)
                    walls.append(result.wall_seconds)
                    if result.solve_seconds is not None:
                        solves.append(result.solve_seconds)
                    if result.score is None:
                        failures.append(result.reason)
                    else:
                        scores.append(result.score)
                    if label != "vanilla":
                        chosen.append(_chosen_model(result.logs))
                    print(f"{name} {label} seed {seed}: {result.status} score={result.score} "
                          f"solve={result.solve_seconds} wall={result.wall_seconds:.1f}s "
                          f"{chosen[-1] if chosen else ''}", file=sys.stderr)
                row[label] = {
                    "score_median": statistics.median(scores) if scores else None,
                    "score_min": min(scores) if scores else None, "score_max": max(scores) if scores else None,
                    "solve_median_s": statistics.median(solves) if solves else None,
                    "wall_median_s": statistics.median(walls), "failures": failures, "chosen": chosen,
                }
            scored = {k: row[k]["score_median"] for k in candidates if row[k]["score_median"] is not None}
            # Ties (e.g. the expert choosing the affine model) name every baseline that reaches the best score.
            best = min(scored.values()) if scored else None
            row["best_simple_baseline"] = " = ".join(k for k in scored if scored[k] == best) if scored else None
            rows.append(row)
    load_after = os.getloadavg()
    report = {"variant": "expert", "baselines": rows, "loadavg_before": load_before, "loadavg_after": load_after}
    if args.json:
        print(json.dumps(report))
        return

    def fmt(entry: dict | None) -> str:
        if entry is None:
            return "—"
        if entry["score_median"] is None:
            return "failed"
        text = f"{entry['score_median']:.3g}"
        if len(seeds) > 1:
            text += f" ({entry['score_min']:.2g}..{entry['score_max']:.2g})"
        return text

    print("| problem | kind | expert (random-feature ridge) | linear map | vanilla baseline | best | expert fit (s) "
          "| expert wall (s) | chosen model |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        vanilla = fmt(r.get("vanilla")) + (f" (`{r['vanilla_baseline']}`)" if r.get("vanilla") else "")
        solve = r["expert"]["solve_median_s"]
        print(f"| `{r['problem']}` | {r['kind']} | {fmt(r['expert'])} | {fmt(r['linear'])} | {vanilla} "
              f"| {r['best_simple_baseline']} | {'—' if solve is None else f'{solve:.1f}'} "
              f"| {r['expert']['wall_median_s']:.1f} | {'; '.join(sorted(set(r['expert']['chosen'])))} |")
    print(json.dumps(report))


if __name__ == "__main__":
    main()

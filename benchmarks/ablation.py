"""Ablations of the offline team: the debate (``--debate-rounds 0``) and the knob sampler (``fixed``).

For every problem and seed the arms run at the same time (one process each), so they share the machine's
load; each arm is a whole ``benchmarks/discovery.py`` campaign. Prints a markdown table and writes the raw
rows as JSON.

    python benchmarks/ablation.py --problems convection1d,discontinuous_fit1d --seeds 0,1,2 \\
        --iterations 4 --candidate-seconds 20 --out benchmarks/results/ablation.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARMS = {
    "default": ["--debate-rounds", "4", "--knob-sampler", "tpe"],
    "no_debate": ["--debate-rounds", "0", "--knob-sampler", "tpe"],
    "fixed_knobs": ["--debate-rounds", "4", "--knob-sampler", "fixed"],
}


def _load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0]) if Path("/proc/loadavg").exists() else math.nan


def run_group(problem: str, seed: int, arms: list[str], args: argparse.Namespace) -> list[dict]:
    procs = {}
    for arm in arms:
        data_dir = tempfile.mkdtemp(prefix=f"ablation-{arm}-")
        cmd = [sys.executable, str(ROOT / "benchmarks" / "discovery.py"), "--problems", problem, "--seed", str(seed),
               "--iterations", str(args.iterations), "--parents", str(args.parents), "--max-wall", str(args.max_wall),
               "--candidate-seconds", str(args.candidate_seconds), "--data-dir", data_dir, "--json", *ARMS[arm]]
        procs[arm] = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                      env={**os.environ, "PYTHONPATH": str(ROOT)})
    load_before, start, rows = _load(), time.monotonic(), []
    for arm, proc in procs.items():
        out, _ = proc.communicate()
        try:
            row = json.loads(out.strip().splitlines()[-1])["discovery"][0]
        except (IndexError, KeyError, json.JSONDecodeError):
            row = {"status": f"benchmark failed (exit {proc.returncode})", "champion_score": None}
        rows.append({"problem": problem, "seed": seed, "arm": arm, "load_before": load_before,
                     "load_after": _load(), "group_seconds": round(time.monotonic() - start, 1),
                     **{k: row.get(k) for k in ("status", "root_score", "champion_score", "evaluations",
                                                "failures", "debates", "improvement_factor")}})
    return rows


def geomean(values: list[float]) -> float | None:
    good = [v for v in values if v is not None and v > 0]
    return math.exp(sum(math.log(v) for v in good) / len(good)) if good else None


def table(rows: list[dict], arms: list[str]) -> str:
    problems = list(dict.fromkeys(r["problem"] for r in rows))
    head = "| problem | " + " | ".join(f"{a} (geo-mean champion; per seed)" for a in arms) + " | debates changed (default arm) |"
    lines = [head, "|" + "---|" * (len(arms) + 2)]
    for problem in problems:
        cells = []
        for arm in arms:
            scores = [r["champion_score"] for r in rows if r["problem"] == problem and r["arm"] == arm]
            g = geomean(scores)
            cells.append(("—" if g is None else f"{g:.3g}") + " (" +
                         ", ".join("fail" if s is None else f"{s:.2g}" for s in scores) + ")")
        debates = [r.get("debates") or {} for r in rows if r["problem"] == problem and r["arm"] == "default"]
        changed = sum(d.get("changed_plan", 0) for d in debates)
        held = sum(d.get("held", 0) for d in debates)
        lines.append(f"| {Path(problem).name} | " + " | ".join(cells) + f" | {changed}/{held} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", required=True, help="comma-separated names or problem directories")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--iterations", type=int, default=4)
    parser.add_argument("--parents", type=int, default=2)
    parser.add_argument("--candidate-seconds", type=float, default=20.0)
    parser.add_argument("--max-wall", type=float, default=900.0)
    parser.add_argument("--out", default=None, help="write the rows here as JSON (appended per group)")
    args = parser.parse_args()
    arms = [a for a in args.arms.split(",") if a]
    rows: list[dict] = []
    for problem in [p for p in args.problems.split(",") if p]:
        for seed in [int(s) for s in args.seeds.split(",") if s.strip()]:
            group = run_group(problem, seed, arms, args)
            rows += group
            for r in group:
                print(f"{Path(problem).name} seed {seed} {r['arm']}: {r['root_score']} -> {r['champion_score']} "
                      f"(debates {r.get('debates')}, load {r['load_before']:.1f}->{r['load_after']:.1f}, "
                      f"{r['group_seconds']} s)", file=sys.stderr, flush=True)
            if args.out:
                Path(args.out).parent.mkdir(parents=True, exist_ok=True)
                Path(args.out).write_text(json.dumps({"rows": rows, "args": vars(args)}, indent=1, default=str))
    print(table(rows, arms))


if __name__ == "__main__":
    main()

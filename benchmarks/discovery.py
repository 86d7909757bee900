"""Discovery with the offline team: root error vs champion error per problem, fixed seeds, CPU budget.

Each problem gets one campaign with a wall-time cap (default 600 s: at most 10 minutes of CPU per
problem, one candidate at a time on one thread). The table goes into BENCHMARKS.md next to the literature
figures quoted in each problem's description.

    python benchmarks/discovery.py [--problems a,b] [--iterations 6] [--parents 2] [--max-wall 600] [--json]

With ``--step-budget N`` every candidate trains N optimiser steps instead of a share of the clock, and the
campaign runs exactly ``--iterations`` (no wall cap): the figures then do not move with the machine's load.
``--load K`` runs K busy-looping processes beside the campaigns, to show that (or, without a step budget,
how much a wall-clock budget moves). Each row records the load average seen during its campaign and a
fingerprint of its tree (every node's code hash and score), so two runs can be compared at a glance.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default="convection1d,allen_cahn1d,burgers1d,helmholtz2d,"
                                              "discontinuous_fit1d,antiderivative")
    parser.add_argument("--iterations", type=int, default=6)
    parser.add_argument("--parents", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-wall", type=float, default=600.0, help="wall-time cap per campaign (s)")
    parser.add_argument("--candidate-seconds", type=float, default=None)
    parser.add_argument("--memory", default="full", choices=["full", "none", "random"])
    parser.add_argument("--debate-rounds", type=int, default=4, help="0: the proposer alone (debate ablation)")
    parser.add_argument("--knob-sampler", default="tpe", choices=["tpe", "fixed"])
    parser.add_argument("--step-budget", type=int, default=None,
                        help="optimiser steps per candidate; the campaign then has no wall cap")
    parser.add_argument("--load", type=int, default=0, help="busy-looping processes to run beside the campaigns")
    parser.add_argument("--reeval-seeds", default="", help="comma-separated extra seeds (the champion is re-run)")
    parser.add_argument("--champion-by", default="score", choices=["score", "seed_mean"])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from app.campaigns.service import open_services
    from app.settings import Settings

    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="discovery-"))
    settings = Settings(data_dir=data_dir)
    rows = []
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.load)]
    try:
        with open_services(settings, warm_workers=1) as services:
            for name in [p for p in args.problems.split(",") if p]:
                rows.append(_one(services, name, args))
    finally:
        for proc in burners:
            proc.kill()
    if args.json:
        print(json.dumps({"discovery": rows, "args": vars(args)}, default=str))
        return
    print("| problem | root rel. L2 | champion rel. L2 | factor | evaluations | failures | wall | load | tree | literature |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        factor = f"{r['improvement_factor']:.1f}x" if r["improvement_factor"] else "—"
        root = "—" if r["root_score"] is None else f"{r['root_score']:.3e}"
        champ = "—" if r["champion_score"] is None else f"{r['champion_score']:.3e}"
        print(f"| {r['problem']} | {root} | {champ} | {factor} | {r['evaluations']} | {r['failures']} "
              f"| {r['bench_wall_seconds']:.0f} s | {r['load_average']:.1f} | {r['tree_fingerprint']} | {r['literature']} |")
    print(json.dumps({"discovery": rows}, default=str))


def _one(services, name: str, args: argparse.Namespace) -> dict:
    """One campaign on one problem; its summary plus the load it ran under and its tree's fingerprint."""
    from app.campaigns.config import CampaignConfig
    from app.campaigns.service import create_campaign, run_campaign
    from problems.registry import get_problem

    seeds = [int(x) for x in args.reeval_seeds.split(",") if x.strip()]
    stepped = args.step_budget is not None
    config = CampaignConfig(problem=name, iterations=args.iterations, parents=args.parents, seed=args.seed,
                            max_wall_seconds=None if stepped else args.max_wall,
                            candidate_seconds=args.candidate_seconds, candidate_steps=args.step_budget,
                            memory=args.memory, debate_rounds=args.debate_rounds, knob_sampler=args.knob_sampler,
                            reeval_seeds=seeds, champion_by=args.champion_by)
    campaign_id = create_campaign(services.db, config)
    samples: list[float] = []
    done = threading.Event()

    def sample() -> None:  # the 1-minute load average, every 5 s while the campaign runs
        while not done.wait(5.0):
            samples.append(os.getloadavg()[0])

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.monotonic()
    summary = run_campaign(services, campaign_id)
    wall = time.monotonic() - start
    done.set()
    spec = get_problem(name).spec
    debates = summary.get("debates") or {}
    print(f"{name}: root {summary['root_score']} -> champion {summary['champion_score']} "
          f"({summary['improvement_factor']}) in {wall:.0f}s; debates {debates.get('held')}, "
          f"changed {debates.get('changed_plan')}", file=sys.stderr)
    return {**summary, "problem": name, "bench_wall_seconds": round(wall, 1),
            "load_average": round(sum(samples) / len(samples), 2) if samples else os.getloadavg()[0],
            "tree_fingerprint": _fingerprint(services.db, campaign_id),
            "literature": "; ".join(f"{k}: {v}" for k, v in spec.literature.items())}


def _fingerprint(db, campaign_id: str) -> str:
    """12 hex digits over every node's (iteration, status, code hash, score), in node order."""
    from app.db import repository as repo

    with db.session_scope(readonly=True) as s:
        parts = [f"{n.iteration}:{n.status}:{n.code_hash}:{n.score!r}" for n in repo.list_nodes(s, campaign_id)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


if __name__ == "__main__":
    main()

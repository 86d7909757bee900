"""Discovery with the offline team: root error vs champion error per problem, fixed seeds, CPU budget.

Each problem gets one campaign with a wall-time cap (default 600 s: at most 10 minutes of CPU per
problem, one candidate at a time on one thread). The table goes into BENCHMARKS.md next to the literature
figures quoted in each problem's description.

    python benchmarks/discovery.py [--problems a,b] [--iterations 6] [--parents 2] [--max-wall 600] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
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
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from app.campaigns.config import CampaignConfig
    from app.campaigns.service import create_campaign, open_services, run_campaign
    from app.settings import Settings
    from problems.registry import get_problem

    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="discovery-"))
    settings = Settings(data_dir=data_dir)
    rows = []
    with open_services(settings, warm_workers=1) as services:
        for name in [p for p in args.problems.split(",") if p]:
            config = CampaignConfig(problem=name, iterations=args.iterations, parents=args.parents, seed=args.seed,
                                    max_wall_seconds=args.max_wall, candidate_seconds=args.candidate_seconds,
                                    memory=args.memory, debate_rounds=args.debate_rounds,
                                    knob_sampler=args.knob_sampler)
            campaign_id = create_campaign(services.db, config)
            start = time.monotonic()
            summary = run_campaign(services, campaign_id)
            wall = time.monotonic() - start
            spec = get_problem(name).spec
            rows.append({**summary, "problem": name, "bench_wall_seconds": round(wall, 1),
                         "literature": "; ".join(f"{k}: {v}" for k, v in spec.literature.items())})
            debates = summary.get("debates") or {}
            print(f"{name}: root {summary['root_score']} -> champion {summary['champion_score']} "
                  f"({summary['improvement_factor']}) in {wall:.0f}s; debates {debates.get('held')}, "
                  f"changed {debates.get('changed_plan')}", file=sys.stderr)
    if args.json:
        print(json.dumps({"discovery": rows, "args": vars(args)}, default=str))
        return
    print("| problem | root rel. L2 | champion rel. L2 | factor | evaluations | failures | wall | literature |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        factor = f"{r['improvement_factor']:.1f}x" if r["improvement_factor"] else "—"
        root = "—" if r["root_score"] is None else f"{r['root_score']:.3e}"
        champ = "—" if r["champion_score"] is None else f"{r['champion_score']:.3e}"
        print(f"| {r['problem']} | {root} | {champ} | {factor} | {r['evaluations']} | {r['failures']} "
              f"| {r['bench_wall_seconds']:.0f} s | {r['literature']} |")
    print(json.dumps({"discovery": rows}, default=str))


if __name__ == "__main__":
    main()

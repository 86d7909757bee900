"""Re-run stored nodes of a finished campaign (and optionally the shipped baseline) at today's load.

A campaign under wall-clock budgets scores its root early and its champion late, each at the load of that
moment; re-running both one after the other, on the same seeds, tells a better method from a quieter
machine. Each line printed is one sandboxed evaluation as JSON (candidate, seed, score, steps, solve
seconds, the 1-minute load average just before it).

    python benchmarks/rerun_nodes.py --data-dir DIR --campaign ID --problem NAME|PATH --nodes root,champion
                                     [--seeds 0,1,2] [--baseline]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="the campaign's data directory (its database)")
    parser.add_argument("--campaign", default=None, help="campaign id (default: the newest)")
    parser.add_argument("--problem", required=True, help="the problem the campaign ran on")
    parser.add_argument("--nodes", default="root,champion", help="node ids, or 'root' / 'champion'")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--baseline", action="store_true", help="also the shipped baseline of the problem's kind")
    args = parser.parse_args()

    from app.campaigns.service import open_services
    from app.db import repository as repo
    from app.settings import Settings
    from baselines import baseline_path
    from problems.registry import get_problem

    problem = get_problem(args.problem)
    settings = Settings(data_dir=Path(args.data_dir))
    candidates: list[tuple[str, str]] = []
    with open_services(settings, warm_workers=0) as services:
        with services.db.session_scope(readonly=True) as s:
            campaigns = repo.list_campaigns(s)
            campaign = next((c for c in campaigns if c.id == args.campaign), None) if args.campaign else (
                max(campaigns, key=lambda c: c.created_at) if campaigns else None)
            if campaign is None:
                parser.error(f"no campaign {args.campaign or ''} in {args.data_dir}")
            named = {"root": campaign.root_node_id, "champion": campaign.champion_node_id}
            for label in [x.strip() for x in args.nodes.split(",") if x.strip()]:
                node_id = named[label] if label in named else int(label)
                node = repo.get_node(s, node_id)
                if node is None or node.campaign_id != campaign.id:
                    parser.error(f"node {label} is not in campaign {campaign.id}")
                candidates.append((f"{label} (#{node.id})", repo.node_code(node, services.store)))
        if args.baseline:
            candidates.append((f"baseline {baseline_path(problem.spec.kind).name}",
                               baseline_path(problem.spec.kind).read_text()))
        for seed in [int(x) for x in args.seeds.split(",") if x.strip()]:
            for name, code in candidates:
                load = os.getloadavg()[0]
                result = services.evaluator.evaluate(code, problem, seed=seed)
                print(json.dumps({"candidate": name, "seed": seed, "status": result.status,
                                  "score": result.score, "steps": result.steps, "solve": result.solve_seconds,
                                  "load": round(load, 2)}), flush=True)


if __name__ == "__main__":
    main()

"""Run one campaign with the scripted team in this process (the kill -9 test's victim).

    python -m tests.campaigns.run_scripted DB_URL DATA_ROOT CAMPAIGN_ID DELAY
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from app.campaigns.engine import CampaignEngine
from app.db.artifacts import ArtifactStore
from app.db.session import Database
from sandbox.evaluate import Evaluator
from tests.campaigns.scripted_team import ScriptedTeam


def main() -> None:
    url, root, campaign_id, delay = sys.argv[1], Path(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    with Evaluator(root / "runs", root / "cache", secret_dirs=[root]) as evaluator:
        engine = CampaignEngine(Database(url), ArtifactStore(root / "artifacts"), evaluator, ScriptedTeam(delay))
        asyncio.run(engine.run(campaign_id))


if __name__ == "__main__":
    main()

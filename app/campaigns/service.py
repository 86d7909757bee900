"""Creating, running and resuming campaigns: the glue the CLI (and later the API and workers) call."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.team import AgentTeam
from app.campaigns.config import CampaignConfig
from app.campaigns.engine import CampaignEngine, EventCallback, campaign_summary
from app.db import repository as repo
from app.db.artifacts import ArtifactStore
from app.db.session import Database, upgrade_database
from app.settings import Settings
from sandbox.evaluate import Evaluator


@dataclass
class Services:
    """The long-lived parts one process needs: database, artifact store, evaluator."""

    settings: Settings
    db: Database
    store: ArtifactStore
    evaluator: Evaluator
    _kb: Any = None

    @property
    def kb(self) -> Any:
        """The method memory, opened once per process (its embedder is costly to load)."""
        if self._kb is None:
            from agents.memory import open_knowledge_base

            self._kb = open_knowledge_base(self.settings.data_dir)
        return self._kb

    def close(self) -> None:
        self.evaluator.close()
        self.db.dispose()

    def __enter__(self) -> "Services":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_database(settings: Settings) -> Database:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    upgrade_database(url)
    return Database(url)


def open_services(settings: Settings, *, warm_workers: int | None = None) -> Services:
    db = open_database(settings)
    store = ArtifactStore(settings.data_dir / "artifacts")
    workers = settings.warm_workers if warm_workers is None else warm_workers
    evaluator = Evaluator.from_settings(settings, warm_workers=workers)
    return Services(settings=settings, db=db, store=store, evaluator=evaluator)


def create_campaign(db: Database, config: CampaignConfig, *, owner_id: int | None = None,
                    name: str | None = None) -> str:
    """Validate the problem, register it, and store the campaign with its configuration."""
    from problems.registry import get_problem

    problem = get_problem(config.problem)  # raises ProblemNotFound / ProblemValidationError
    spec = problem.spec
    source = "builtin" if config.problem == spec.name else "user"
    stored = config.model_dump()
    if source == "user":
        stored["problem"] = str(Path(config.problem).expanduser().resolve())
    with db.session_scope() as s:
        row = repo.upsert_problem(s, spec.name, kind=spec.kind, spec=spec.model_dump(mode="json"), source=source)
        campaign = repo.create_campaign(s, row.id, config=stored, seed=config.seed, owner_id=owner_id, name=name)
        return campaign.id


def recording_path(settings: Settings, campaign_id: str) -> Path:
    return settings.data_dir / "recordings" / f"{campaign_id}.jsonl"


def build_team(config: CampaignConfig, *, settings: Settings | None = None, campaign_id: str | None = None) -> AgentTeam:
    """The team a campaign asked for; an LLM team records every exchange for ``replay``."""
    if config.team == "offline":
        from agents.offline_team import OfflineTeam

        return OfflineTeam()
    if config.team == "llm":
        from agents.llm.recording import Recorder
        from agents.llm.team import LLMTeam
        from agents.providers import BudgetCaps, ProvidersConfig, UsageLedger

        providers = ProvidersConfig.from_yaml(config.providers_file)
        ledger = UsageLedger()
        if campaign_id is not None:
            ledger.set_caps(BudgetCaps(max_cost_usd=config.max_cost_usd, max_total_tokens=config.max_tokens),
                            campaign_id=campaign_id)
        recorder = None
        if settings is not None and campaign_id is not None:
            path = recording_path(settings, campaign_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            recorder = Recorder(path)
        return LLMTeam(providers, ledger, recorder, campaign_id=campaign_id)
    raise ValueError(f"unknown team {config.team!r}")


def make_engine(services: Services, config: CampaignConfig, on_event: EventCallback | None = None,
                team: AgentTeam | None = None, campaign_id: str | None = None) -> CampaignEngine:
    from agents.memory import build_memory

    team = team or build_team(config, settings=services.settings, campaign_id=campaign_id)
    kb = services.kb
    return CampaignEngine(services.db, services.store, services.evaluator, team,
                          memory=build_memory(config.memory, kb), on_event=on_event, card_sink=kb.add_card,
                          allow_weak_isolation=getattr(services.settings, "allow_weak_isolation", None))


def run_campaign(services: Services, campaign_id: str, *, on_event: EventCallback | None = None,
                 team: AgentTeam | None = None, engine_hook: Any = None) -> dict[str, Any]:
    """Run (or resume) a campaign to its end in this process."""
    with services.db.session_scope(readonly=True) as s:
        campaign = repo.get_campaign(s, campaign_id)
        if campaign is None:
            raise LookupError(f"no campaign {campaign_id!r}")
        config = CampaignConfig(**{k: v for k, v in campaign.config.items() if not k.startswith("_")})
    engine = make_engine(services, config, on_event, team, campaign_id)
    if engine_hook is not None:
        engine_hook(engine)
    return asyncio.run(engine.run(campaign_id))


def summary(services: Services, campaign_id: str) -> dict[str, Any]:
    return campaign_summary(services.db, campaign_id)

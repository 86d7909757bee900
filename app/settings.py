"""The one piece of global state: settings read from the environment (prefix ``AGENTIC_SCIML_``).

Everything has an embedded default so that a fresh machine runs with no configuration: SQLite in a data
directory, the offline agent team, local evaluation.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path.cwd() / "data"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AGENTIC_SCIML_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir, description="Database, artefacts, caches, runs.")
    database_url: str | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="SQLAlchemy URL; defaults to a SQLite file in data_dir.",
    )
    sandbox_mode: Literal["auto", "bwrap", "unshare", "none"] = Field(
        default="auto",
        description="Isolation backend; 'auto' picks the strongest one this machine supports.",
    )
    allow_weak_isolation: bool = Field(
        default=False,
        description="Run candidates even when the isolation backend is weaker than bubblewrap (unshare or "
        "none: a candidate can read host files, hidden targets included); such scores are marked "
        "weak_isolation. Off: campaigns, batches and `evaluate` refuse to start on a weak backend.",
    )
    sandbox_uid_base: int = Field(
        default=61000, description="When running as root, candidates run as unprivileged uids from here."
    )
    warm_workers: int = Field(default=0, ge=0, le=64, description="Pre-imported sandbox workers kept ready.")
    keep_runs: bool = Field(default=False, description="Keep each run's scratch directory after scoring.")
    # -- where candidates are evaluated (sandbox/executors) ----------------------------------------------
    executor: Literal["local", "ray"] = Field(
        default="local", validation_alias=AliasChoices("executor", "EXECUTOR", "AGENTIC_SCIML_EXECUTOR"),
        description="'local': a process pool on this machine; 'ray': one Ray task per evaluation.")
    ray_address: str | None = Field(
        default=None, validation_alias=AliasChoices("ray_address", "RAY_ADDRESS", "AGENTIC_SCIML_RAY_ADDRESS"),
        description="Ray cluster to join ('host:port' with a local raylet, 'ray://host:10001' through Ray "
        "Client); unset means 'auto', the cluster `ray start` left on this machine.")
    ray_cpus_per_evaluation: float = Field(default=1.0, gt=0, le=256, description="CPUs each Ray task asks for.")
    ray_gpus_per_evaluation: float | None = Field(
        default=None, ge=0, le=1, description="GPUs each Ray task asks for; unset: 1 when the budget's device "
        "is 'cuda' (or 'auto' on a cluster with GPUs), else 0.")
    ray_memory_mb_per_evaluation: int | None = Field(
        default=None, ge=1, description="Memory each Ray task reserves; unset: the evaluation's memory budget.")
    ray_max_retries: int = Field(default=3, ge=0, le=100, description="Retries of an evaluation whose Ray "
                                 "worker or node died (candidate failures are never retried).")
    ray_warm_workers: int = Field(default=0, ge=0, le=8, description="Pre-imported sandbox workers each Ray "
                                  "worker process keeps for its next evaluation.")
    scheduler_enabled: bool = Field(default=True, description="Run the schedule loop in `serve` (any number of "
                                    "instances may: each slot fires once).")
    scheduler_tick_seconds: float = Field(default=5.0, gt=0, le=3600, description="How often due schedules are looked for.")
    schedule_misfire_grace_seconds: float = Field(
        default=300.0, ge=0, description="A slot at most this late still runs under the 'skip' missed-run policy.")
    schedule_min_interval_seconds: float = Field(
        default=60.0, ge=0, description="Schedules may not fire more often than this (0: no limit).")
    public_url: str | None = Field(default=None, description="Base URL of the API, for links in batch reports.")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'agentic_sciml.db'}"

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

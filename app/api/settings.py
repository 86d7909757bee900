"""Settings of the HTTP service and its workers, read from the same ``AGENTIC_SCIML_`` environment prefix.

They live apart from :mod:`app.settings` (which the whole project shares) so that the service can grow its
knobs without touching the core; every field has a default that suits one machine.
"""

from __future__ import annotations

import ipaddress

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.workers.options import WorkerOptions

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AGENTIC_SCIML_", extra="ignore")

    # -- binding and auth --------------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address `serve` binds to.")
    port: int = Field(8000, ge=0, le=65535)
    embedded: bool = Field(
        False,
        description="Single-user demo mode: no API keys, and the server refuses to bind anywhere but loopback.",
    )
    auth_enabled: bool = Field(True, description="Require API keys (ignored, i.e. off, in embedded mode).")
    auth_cache_seconds: float = Field(5.0, ge=0, le=300, description="A verified key is trusted this long "
                                      "without a query (so a revocation takes effect within it).")

    # -- in-process workers ------------------------------------------------------------------------------
    workers: int = Field(1, ge=0, le=64, description="Worker threads `serve` runs next to the API.")
    team_factory: str | None = Field(
        None,
        description="'module:callable' building the agent team from a CampaignConfig (default: the "
        "team named in the campaign's configuration).",
    )
    llm_providers_file: str | None = Field(
        None, description="Providers YAML used by campaigns created through the API with team 'llm'."
    )
    lease_seconds: float = Field(30.0, gt=0, le=3600, description="Work lease; a dead worker's campaign "
                                 "is taken over this long after its last heartbeat.")
    heartbeat_seconds: float = Field(5.0, gt=0, le=600, description="How often leases are renewed.")
    poll_seconds: float = Field(1.0, gt=0, le=60, description="Idle workers look for work this often.")
    max_attempts: int = Field(5, ge=1, le=100, description="Claims of one run before it is given up.")
    max_evaluations_in_flight: int = Field(
        4, ge=1, le=256, description="Candidate evaluations running at once in one worker process."
    )

    # -- limits ------------------------------------------------------------------------------------------
    max_active_campaigns_per_user: int = Field(4, ge=1, description="Queued or running campaigns per user.")
    max_active_campaigns: int = Field(16, ge=1, description="Queued or running campaigns in total.")
    max_body_bytes: int = Field(1 << 20, gt=0, description="Largest request body (413 above).")
    max_upload_bytes: int = Field(64 << 20, gt=0, description="Largest problem upload (413 above).")

    # -- live events -------------------------------------------------------------------------------------
    sse_heartbeat_seconds: float = Field(15.0, gt=0, le=300, description="Comment lines that keep idle "
                                         "streams (and proxies) alive.")
    sse_poll_seconds: float = Field(0.25, gt=0, le=10, description="How often the server looks for new events.")
    sse_gap_grace_seconds: float = Field(
        2.0, ge=0, le=60, description="Global stream: how long a hole in the event ids may stay open "
        "(an append not yet committed) before it is skipped as a rolled-back id."
    )
    ready_requires_workers: bool = Field(True, description="/readyz fails while no worker is alive.")

    @model_validator(mode="after")
    def _heartbeat_inside_lease(self) -> "ServiceSettings":
        if self.heartbeat_seconds * 2 > self.lease_seconds:
            raise ValueError("heartbeat_seconds must be at most half of lease_seconds")
        return self

    @property
    def auth_required(self) -> bool:
        return self.auth_enabled and not self.embedded

    def worker_options(self) -> WorkerOptions:
        return WorkerOptions(
            lease_seconds=self.lease_seconds, heartbeat_seconds=self.heartbeat_seconds,
            poll_seconds=self.poll_seconds, max_attempts=self.max_attempts,
            max_evaluations_in_flight=self.max_evaluations_in_flight,
        )

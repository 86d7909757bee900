"""Timing and capacity knobs of a worker pool (kept free of the HTTP layer so workers run without it)."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator


class WorkerOptions(BaseModel):
    lease_seconds: float = Field(30.0, gt=0)
    heartbeat_seconds: float = Field(5.0, gt=0)
    poll_seconds: float = Field(1.0, gt=0)
    max_attempts: int = Field(5, ge=1)
    max_evaluations_in_flight: int = Field(4, ge=1)
    reap_every_beats: int = Field(4, ge=1, description="Expired leases are swept every this many heartbeats.")
    stop_timeout_seconds: float = Field(30.0, gt=0, description="Graceful stop waits this long for runs.")

    @model_validator(mode="after")
    def _heartbeat_inside_lease(self) -> "WorkerOptions":
        if self.heartbeat_seconds * 2 > self.lease_seconds:
            raise ValueError("heartbeat_seconds must be at most half of lease_seconds")
        return self

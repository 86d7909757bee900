"""Request and response models of ``/v1/batches`` and ``/v1/schedules`` (the OpenAPI schema comes from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.scheduling.report import BatchSummary
from app.scheduling.spec import PRINTABLE, BatchSpec
from app.scheduling.store import SCHEDULE_NAME_PATTERN, FiringView, ScheduleView

BatchStatusName = Literal["running", "completed", "cancelled"]


class BatchOut(BaseModel):
    id: str
    name: str
    status: BatchStatusName
    run_mode: Literal["queue", "local"]
    schedule_id: int | None
    slot: datetime | None
    owner_id: int | None
    created_at: datetime
    finished_at: datetime | None
    budget: dict[str, Any] = Field(description="the batch's caps and each campaign's share of them")
    summary: BatchSummary = Field(description="per-campaign table and totals (final once every campaign finished)")
    report_url: str = Field(description="the summary as markdown")


class BatchPage(BaseModel):
    items: list[BatchOut]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class ScheduleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=SCHEDULE_NAME_PATTERN, description="unique name")
    cron: str = Field(min_length=1, max_length=120, pattern=PRINTABLE,
                      description="five fields (minute hour day-of-month month day-of-week), an optional sixth of "
                                  "seconds, or @hourly/@daily/@weekly/@monthly/@yearly")
    timezone: str = Field("UTC", min_length=1, max_length=64, pattern=PRINTABLE,
                          description="IANA zone the expression is read in, e.g. Europe/Paris")
    missed: Literal["skip", "run_once"] = Field(
        "skip", description="after downtime: skip missed slots, or run once for all of them")
    overlap: Literal["skip", "allow"] = Field(
        "skip", description="skip a slot while the previous batch of this schedule still runs, or start anyway")
    paused: bool = False
    batch: BatchSpec


class ScheduleUpdate(BaseModel):
    """Fields to change; those left out keep their value. The schedule keeps its id and firing history."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, pattern=SCHEDULE_NAME_PATTERN, description="new unique name")
    cron: str | None = Field(None, min_length=1, max_length=120, pattern=PRINTABLE,
                             description="new expression; the next slot is computed from now")
    timezone: str | None = Field(None, min_length=1, max_length=64, pattern=PRINTABLE,
                                 description="new IANA zone for the (new or current) expression")
    missed: Literal["skip", "run_once"] | None = None
    overlap: Literal["skip", "allow"] | None = None
    batch: BatchSpec | None = Field(None, description="the batch later slots start (a running batch is unchanged)")

    @model_validator(mode="after")
    def _something(self) -> ScheduleUpdate:
        if not self.model_fields_set:
            raise ValueError("nothing to change: give at least one of name, cron, timezone, missed, overlap, batch")
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null; leave it out to keep the current value")
        return self


class ScheduleDetail(ScheduleView):
    batch: dict[str, Any] = Field(description="the batch each slot starts")
    recent_firings: list[FiringView]


class SchedulePage(BaseModel):
    items: list[ScheduleView]
    total: int
    limit: int
    offset: int
    next_offset: int | None

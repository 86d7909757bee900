"""Batch and schedule commands on the ``agentic-sciml`` CLI.

``batch run FILE`` runs a batch here, one campaign after another, and prints its summary; ``batch list``,
``show``, ``resume`` and ``cancel`` look after stored batches. ``schedule add|list|show|update|pause|resume|delete``
manage cron schedules in the database, which every ``serve`` instance (or ``schedule daemon``) fires.
Importing this module registers the commands on :data:`app.cli.app`.
"""

from __future__ import annotations

import json
import logging
import signal
from pathlib import Path
from typing import Any, Optional

import typer

from app.cli import _allow_weak_option, _CampaignProgress, _fail, _grant_weak_isolation, _isolation_gate, app
from app.settings import get_settings

batch_app = typer.Typer(add_completion=False, no_args_is_help=True,
                        help="Batches: problems × team configurations run as one group with a shared budget.")
schedule_app = typer.Typer(add_completion=False, no_args_is_help=True,
                           help="Cron schedules that start a batch at every slot.")
app.add_typer(batch_app, name="batch")
app.add_typer(schedule_app, name="schedule")


def _database():
    from app.campaigns.service import open_database

    return open_database(get_settings())


def _load_spec(file: Path, as_json: bool = False):
    from app.scheduling.spec import BatchSpecError, load_batch_file

    try:
        return load_batch_file(file)
    except BatchSpecError as exc:
        _fail(str(exc), as_json=as_json)


def _plan(spec, file: Path, as_json: bool = False):
    from app.scheduling.plan import PlanRules, plan_batch
    from app.scheduling.spec import BatchSpecError, format_loc

    try:
        return plan_batch(spec, PlanRules.trusted(get_settings().data_dir / "user_problems"))
    except BatchSpecError as exc:
        _fail(f"{file}: field '{format_loc(exc.loc)}': {exc.message}" if exc.loc else f"{file}: {exc.message}",
              as_json=as_json)


# -- batches ----------------------------------------------------------------------------------------------------
def _interrupts():
    """Engine hook: the first Ctrl-C (or SIGTERM) pauses the running campaign, which stops the batch."""
    state = {"interrupted": False}

    def hook(engine: Any) -> None:
        def interrupt(signum: int, frame: Any) -> None:
            state["interrupted"] = True
            engine.cancel.set()
            signal.signal(signal.SIGINT, signal.SIG_DFL)  # a second Ctrl-C kills
            typer.echo("interrupting: the current campaign is paused and the batch stops here", err=True)

        signal.signal(signal.SIGINT, interrupt)
        signal.signal(signal.SIGTERM, interrupt)

    return hook, state


def _drive(services, batch_id: str, as_json: bool, team_factory: Optional[str]) -> Any:
    from app.scheduling.local import run_local_batch
    from app.workers.teams import load_team_factory

    try:
        factory = load_team_factory(team_factory)
    except (ValueError, TypeError) as exc:
        _fail(str(exc), as_json=as_json)
    hook, _ = _interrupts()

    def announce(index: int, count: int, campaign_id: str) -> None:
        if not as_json:
            typer.echo(f"batch {batch_id}: campaign {index + 1}/{count} ({campaign_id})", err=True)

    return run_local_batch(services, batch_id, base_url=get_settings().public_url or "", on_campaign=announce,
                           on_event=lambda cid: _CampaignProgress(not as_json), team_factory=factory,
                           engine_hook=hook)


def _finish(outcome: Any, as_json: bool) -> None:
    from app.scheduling.batches import report_path
    from app.scheduling.report import render_markdown

    summary = outcome.summary
    path = report_path(get_settings().data_dir, outcome.batch_id)
    if as_json:
        typer.echo(json.dumps({**summary.model_dump(mode="json"), "interrupted": outcome.interrupted,
                               "report_path": str(path) if path.is_file() else None}))
    else:
        typer.echo(render_markdown(summary))
        if path.is_file():
            typer.echo(f"report: {path}", err=True)
    if outcome.interrupted:
        typer.echo(f"batch {outcome.batch_id} interrupted; continue it with: agentic-sciml batch resume "
                   f"{outcome.batch_id}", err=True)
        raise typer.Exit(130)
    failed = summary.totals.by_status.get("failed", 0)
    raise typer.Exit(1 if failed else 0)


@batch_app.command("run")
def batch_run(
    file: Path = typer.Argument(..., help="Batch file (YAML, or JSON by the .json suffix); see examples/batch.yaml."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout at the end."),
    team_factory: Optional[str] = typer.Option(None, "--team-factory", hidden=True,
                                               help="module:callable building the team (tests, plugins)."),
    allow_weak_isolation: bool = _allow_weak_option(),
) -> None:
    """Run a batch here, campaign after campaign, then print its summary (exit 1 if a campaign failed)."""
    from app.campaigns.service import open_services
    from app.scheduling.local import start_local_batch

    spec = _load_spec(file, as_json)
    runs = _plan(spec, file, as_json)
    _isolation_gate(allow_weak_isolation or all(r.config.allow_weak_isolation for r in runs), as_json)
    if allow_weak_isolation:  # stored with each campaign: a resume keeps the consent
        for r in runs:
            r.config = r.config.model_copy(update={"allow_weak_isolation": True})
    concurrency = max(r.config.concurrency for r in runs)
    with open_services(get_settings(), warm_workers=max(1, concurrency)) as services:
        batch_id = start_local_batch(services, spec, runs)
        if not as_json:
            typer.echo(f"batch {batch_id}: {len(runs)} campaign(s)", err=True)
        outcome = _drive(services, batch_id, as_json, team_factory)
    _finish(outcome, as_json)


@batch_app.command("resume")
def batch_resume(batch_id: str = typer.Argument(...), as_json: bool = typer.Option(False, "--json"),
                 team_factory: Optional[str] = typer.Option(None, "--team-factory", hidden=True),
                 allow_weak_isolation: bool = _allow_weak_option()) -> None:
    """Continue a local batch: its unfinished campaigns run here, then the summary is printed."""
    from app.campaigns.service import open_services
    from app.db.models import Batch

    with open_services(get_settings(), warm_workers=1) as services:
        with services.db.session_scope(readonly=True) as s:
            batch = s.get(Batch, batch_id)
            if batch is None:
                _fail(f"no batch {batch_id!r}", as_json=as_json)
            if batch.run_mode != "local":
                _fail(f"batch {batch_id} is run by the service's workers; it cannot be resumed here", as_json=as_json)
            if batch.status != "running":
                _fail(f"batch {batch_id} is {batch.status}; nothing to resume", as_json=as_json)
            from app.db import repository as repo
            from app.scheduling.batches import campaign_ids

            campaigns = [c for c in (repo.get_campaign(s, i) for i in campaign_ids(s, batch_id)) if c is not None]
            allowed = all((c.config or {}).get("allow_weak_isolation") for c in campaigns)
            ids = [c.id for c in campaigns]
        _isolation_gate(allow_weak_isolation or allowed, as_json)
        if allow_weak_isolation:
            for campaign_id in ids:
                _grant_weak_isolation(services.db, campaign_id)
        outcome = _drive(services, batch_id, as_json, team_factory)
    _finish(outcome, as_json)


@batch_app.command("list")
def batch_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Batches, newest first, with status and campaign counts."""
    from sqlalchemy import select

    from app.db.models import Batch
    from app.scheduling.batches import summary_of

    db = _database()
    try:
        with db.session_scope(readonly=True) as s:
            rows = []
            for batch in s.scalars(select(Batch).order_by(Batch.created_at.desc()).limit(1000)):
                totals = summary_of(s, batch).totals
                rows.append({"id": batch.id, "name": batch.name, "status": batch.status, "run_mode": batch.run_mode,
                             "schedule_id": batch.schedule_id, "campaigns": totals.campaigns,
                             "finished": totals.finished, "geomean_improvement": totals.geomean_improvement,
                             "created_at": batch.created_at.isoformat()})
    finally:
        db.dispose()
    if as_json:
        typer.echo(json.dumps({"batches": rows}))
        return
    if not rows:
        typer.echo("no batches yet: start one with `agentic-sciml batch run FILE`")
    for r in rows:
        factor = "—" if r["geomean_improvement"] is None else f"{r['geomean_improvement']:.2f}×"
        typer.echo(f"{r['id']}  {r['name'][:30]:<30} {r['status']:<10} {r['finished']}/{r['campaigns']} done  "
                   f"improvement {factor}  {r['created_at'][:19]}")


@batch_app.command("show")
def batch_show(batch_id: str = typer.Argument(...), as_json: bool = typer.Option(False, "--json")) -> None:
    """A batch's summary table (markdown), or its JSON."""
    from app.db.models import Batch
    from app.scheduling.batches import summary_of
    from app.scheduling.report import render_markdown

    db = _database()
    try:
        with db.session_scope(readonly=True) as s:
            batch = s.get(Batch, batch_id)
            if batch is None:
                _fail(f"no batch {batch_id!r}", as_json=as_json)
            summary = summary_of(s, batch, get_settings().public_url or "")
            report = batch.report
    finally:
        db.dispose()
    if as_json:
        typer.echo(json.dumps(summary.model_dump(mode="json")))
    else:
        typer.echo(report or render_markdown(summary))


@batch_app.command("cancel")
def batch_cancel(batch_id: str = typer.Argument(...)) -> None:
    """Cancel a batch's unfinished campaigns (workers stop them within a heartbeat)."""
    from app.db.models import Batch
    from app.scheduling.batches import Finalizer

    db = _database()
    try:
        with db.session_scope(readonly=True) as s:
            batch = s.get(Batch, batch_id)
            if batch is None:
                _fail(f"no batch {batch_id!r}")
            if batch.status != "running":
                _fail(f"batch {batch_id} is {batch.status}; nothing to cancel")
        count = Finalizer(db, get_settings().data_dir, get_settings().public_url or "").cancel(batch_id, by="cli")
    finally:
        db.dispose()
    typer.echo(f"batch {batch_id} cancelled ({count} campaign(s) stopped)")


# -- schedules --------------------------------------------------------------------------------------------------
def _schedule_row(view: Any) -> dict[str, Any]:
    return view.model_dump(mode="json")


@schedule_app.command("add")
def schedule_add(
    name: str = typer.Option(..., "--name", help="Unique name."),
    cron: str = typer.Option(..., "--cron", help="e.g. '0 3 * * *' (minute hour day month weekday)."),
    timezone: str = typer.Option("UTC", "--timezone", help="IANA zone the expression is read in."),
    batch: Path = typer.Option(..., "--batch", help="The batch file each slot starts."),
    missed: str = typer.Option("skip", "--missed", help="After downtime: skip, or run_once for all missed slots."),
    overlap: str = typer.Option("skip", "--overlap", help="skip a slot while the previous batch runs, or allow."),
    paused: bool = typer.Option(False, "--paused", help="Create it paused."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Store a schedule: the batch in FILE starts at every slot of the cron expression."""
    import re

    from app.db.models import ScheduleSource
    from app.scheduling import store
    from app.scheduling.cron import CronError

    if not re.match(store.SCHEDULE_NAME_PATTERN, name):
        _fail(f"--name {name!r}: use letters, digits, '_', '.' or '-' (at most 100, starting with a letter or digit)",
              as_json=as_json)
    if missed not in ("skip", "run_once"):
        _fail(f"--missed must be 'skip' or 'run_once', not {missed!r}", as_json=as_json)
    if overlap not in ("skip", "allow"):
        _fail(f"--overlap must be 'skip' or 'allow', not {overlap!r}", as_json=as_json)
    settings = get_settings()
    try:
        schedule = store.validate_cron(cron, timezone, min_interval_seconds=settings.schedule_min_interval_seconds)
    except CronError as exc:
        _fail(f"--{exc.field}: {exc.message}", as_json=as_json)
    spec = _load_spec(batch, as_json)
    _plan(spec, batch, as_json)  # refuse now what would fail at every slot
    db = _database()
    try:
        with db.session_scope() as s:
            try:
                row = store.create_schedule(s, name=name, cron=schedule, spec=spec, source=ScheduleSource.CLI.value,
                                            owner_id=None, missed=missed, overlap=overlap, paused=paused)
            except store.ScheduleConflict as exc:
                _fail(f"--name: {exc}", as_json=as_json)
            view = store.views(s, [row])[0]
    finally:
        db.dispose()
    _echo_schedule(view, as_json)


def _echo_schedule(view: Any, as_json: bool, what: str = "") -> None:
    if as_json:
        typer.echo(json.dumps(_schedule_row(view)))
        return
    typer.echo(f"schedule {view.id} {view.name!r}{' ' + what if what else ''}: {view.cron} ({view.timezone}), "
               f"next run {_local(view.next_run_at, view.timezone)}{' (paused)' if view.paused else ''}")


def _local(moment: Any, timezone: str) -> str:
    if moment is None:
        return "—"
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(timezone)).isoformat(timespec="seconds")


@schedule_app.command("list")
def schedule_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Schedules with their next slot and last run."""
    from app.scheduling import store

    db = _database()
    try:
        with db.session_scope(readonly=True) as s:
            rows, _ = store.list_schedules(s, limit=100_000)
            views = store.views(s, rows)
    finally:
        db.dispose()
    if as_json:
        typer.echo(json.dumps({"schedules": [_schedule_row(v) for v in views]}))
        return
    if not views:
        typer.echo("no schedules: add one with `agentic-sciml schedule add --name N --cron '0 3 * * *' --batch FILE`")
    for v in views:
        state = "paused" if v.paused else f"next {_local(v.next_run_at, v.timezone)}"
        last = "never run" if v.last_run is None else (f"last {v.last_run.status} at "
                                                       f"{v.last_run.started_at.isoformat(timespec='seconds')}"
                                                       + (f": {v.last_run.summary}" if v.last_run.summary else ""))
        typer.echo(f"{v.id:>4}  {v.name:<24} {v.cron:<16} {v.timezone:<18} {state}  {last}")


@schedule_app.command("show")
def schedule_show(ref: str = typer.Argument(..., help="Schedule id or name."),
                  as_json: bool = typer.Option(False, "--json")) -> None:
    """A schedule, its batch and its recent firings."""
    from app.scheduling import store

    db = _database()
    try:
        with db.session_scope(readonly=True) as s:
            row = _find_or_fail(s, ref, as_json=as_json)
            view = store.views(s, [row])[0]
            history = store.firings(s, row.id, limit=20)
            batch = store.spec_of(row)
    finally:
        db.dispose()
    if as_json:
        typer.echo(json.dumps({**_schedule_row(view), "batch": batch,
                               "recent_firings": [f.model_dump(mode="json") for f in history]}))
        return
    typer.echo(f"schedule {view.id} {view.name!r}: {view.cron} ({view.timezone}), missed runs: {view.missed}, "
               f"overlap: {view.overlap}{', paused' if view.paused else ''}")
    typer.echo(f"next run: {_local(view.next_run_at, view.timezone)}")
    typer.echo(f"batch: {batch.get('name')} ({len(batch.get('problems', []))} problem(s) × "
               f"{len(batch.get('teams', [])) or 1} team(s))")
    for f in history:
        typer.echo(f"  {f.slot.isoformat(timespec='seconds')}  {f.status:<8} {f.batch_id or '':<12} {f.error or ''}")


def _find_or_fail(session, ref: str, *, as_json: bool = False):
    """The schedule named or numbered ``ref``; a clear error (exit 2) if there is none."""
    from app.db.errors import NotFound
    from app.scheduling import store

    try:
        return store.find_schedule(session, ref)
    except NotFound:
        _fail(f"no schedule {ref!r}", as_json=as_json)


def _set_paused(ref: str, paused: bool) -> None:
    from app.scheduling import store

    db = _database()
    try:
        with db.session_scope() as s:
            row = _find_or_fail(s, ref)
            store.set_paused(s, row, paused)
            name, tz, next_run = row.name, row.timezone, row.next_run_at
    finally:
        db.dispose()
    typer.echo(f"schedule {name!r} paused" if paused else f"schedule {name!r} resumed; next run {_local(next_run, tz)}")


@schedule_app.command("pause")
def schedule_pause(ref: str = typer.Argument(..., help="Schedule id or name.")) -> None:
    """Stop firing (a batch already started keeps running)."""
    _set_paused(ref, True)


@schedule_app.command("resume")
def schedule_resume(ref: str = typer.Argument(..., help="Schedule id or name.")) -> None:
    """Fire again from the next slot (slots that passed while paused do not run)."""
    _set_paused(ref, False)


@schedule_app.command("update")
def schedule_update(
    ref: str = typer.Argument(..., help="Schedule id or name."),
    name: Optional[str] = typer.Option(None, "--name", help="New unique name."),
    cron: Optional[str] = typer.Option(None, "--cron", help="New expression (the next slot is computed from now)."),
    timezone: Optional[str] = typer.Option(None, "--timezone", help="New IANA zone for the expression."),
    batch: Optional[Path] = typer.Option(None, "--batch", help="New batch file for later slots."),
    missed: Optional[str] = typer.Option(None, "--missed", help="skip or run_once."),
    overlap: Optional[str] = typer.Option(None, "--overlap", help="skip or allow."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Change a schedule in place: it keeps its id and firing history; a running batch is not touched."""
    import re

    from app.db.models import Schedule, ScheduleSource
    from app.scheduling import store
    from app.scheduling.cron import CronError

    if all(v is None for v in (name, cron, timezone, batch, missed, overlap)):
        _fail("nothing to change: give --name, --cron, --timezone, --batch, --missed or --overlap", as_json=as_json)
    if name is not None and not re.match(store.SCHEDULE_NAME_PATTERN, name):
        _fail(f"--name {name!r}: use letters, digits, '_', '.' or '-' (at most 100, starting with a letter or digit)",
              as_json=as_json)
    if missed not in (None, "skip", "run_once"):
        _fail(f"--missed must be 'skip' or 'run_once', not {missed!r}", as_json=as_json)
    if overlap not in (None, "skip", "allow"):
        _fail(f"--overlap must be 'skip' or 'allow', not {overlap!r}", as_json=as_json)
    spec = None
    if batch is not None:
        spec = _load_spec(batch, as_json)
        _plan(spec, batch, as_json)
    db = _database()
    try:
        with db.session_scope() as s:
            row = _find_or_fail(s, ref)
            s.refresh(row, with_for_update=True)  # no scheduler loop fires it halfway through the change
            schedule = None
            if cron is not None or timezone is not None:
                try:
                    schedule = store.validate_cron(cron or row.cron, timezone or row.timezone,
                                                   min_interval_seconds=get_settings().schedule_min_interval_seconds)
                except CronError as exc:
                    _fail(f"--{exc.field}: {exc.message}", as_json=as_json)
            try:
                store.update_schedule(s, row, name=name, cron=schedule, spec=spec, missed=missed, overlap=overlap,
                                      source=ScheduleSource.CLI.value if spec is not None else None)
            except store.ScheduleConflict as exc:
                _fail(f"--name: {exc}", as_json=as_json)
            view = store.views(s, [s.get(Schedule, row.id)])[0]
    finally:
        db.dispose()
    _echo_schedule(view, as_json, "updated")


@schedule_app.command("delete")
def schedule_delete(ref: str = typer.Argument(..., help="Schedule id or name.")) -> None:
    """Delete a schedule and its firing history (the batches it started stay)."""
    from app.scheduling import store

    db = _database()
    try:
        with db.session_scope() as s:
            row = _find_or_fail(s, ref)
            name = row.name
            store.delete_schedule(s, row)
    finally:
        db.dispose()
    typer.echo(f"schedule {name!r} deleted")


@schedule_app.command("daemon")
def schedule_daemon(
    tick_seconds: Optional[float] = typer.Option(None, "--tick-seconds", help="How often to look for due schedules."),
    max_attempts: int = typer.Option(5, "--max-attempts", help="Claims of one campaign run before it is given up."),
    providers: Optional[str] = typer.Option(None, "--providers", help="Providers YAML for LLM teams of API "
                                            "schedules that name none (default: AGENTIC_SCIML_LLM_PROVIDERS_FILE)."),
) -> None:
    """Fire due schedules without serving the API (any number may run beside `serve`: each slot fires once)."""
    import os
    import threading

    from app.scheduling.loop import SchedulerLoop

    settings = get_settings()
    if tick_seconds is not None and not (0 < tick_seconds <= 3600):
        _fail("--tick-seconds must be in (0, 3600]")
    if max_attempts < 1:
        _fail("--max-attempts must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import problems.registry  # noqa: F401  - pay the problem suite's imports before the first slot

    db = _database()
    providers = providers or os.environ.get("AGENTIC_SCIML_LLM_PROVIDERS_FILE")
    from app.api.settings import ServiceSettings

    loop = SchedulerLoop.from_settings(db, settings, max_attempts=max_attempts, default_providers_file=providers,
                                       limits=ServiceSettings())
    if tick_seconds is not None:
        loop.tick_seconds = tick_seconds
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stop.set())
    loop.start()
    typer.echo(f"scheduler {loop.context.instance} ready (tick {loop.tick_seconds:g} s)", err=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        loop.stop()
        db.dispose()
        typer.echo(f"scheduler stopped: {json.dumps(loop.totals)}", err=True)

"""The ``agentic-sciml`` command line.

Each command is thin: it parses arguments, calls the same services the API uses, and prints either a
human-readable view or, with ``--json``, exactly one JSON object on stdout for scripts. Errors a user can
fix exit with status 2 and a message on stderr, never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from app.settings import get_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Agents that discover SciML methods.")


def _fail(message: str, *, as_json: bool = False, code: int = 2) -> None:
    if as_json:
        typer.echo(json.dumps({"error": message}))
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


# -- isolation policy (app/isolation.py): a sandbox weaker than bubblewrap needs explicit consent ---------------
def _allow_weak_option() -> Any:
    return typer.Option(False, "--allow-weak-isolation",
                        help="Run even if the sandbox is weaker than bubblewrap (unshare or none: candidates can "
                        "read host files); scores are marked weak_isolation. Also AGENTIC_SCIML_ALLOW_WEAK_ISOLATION=1.")


def _isolation_gate(allow: bool, as_json: bool) -> dict[str, Any]:
    """The isolation candidates will get, or exit 2 naming the backend and the flag when it is not allowed."""
    from app.isolation import IsolationError, require_isolation

    try:
        status = require_isolation(get_settings(), allow)
    except IsolationError as exc:
        _fail(str(exc), as_json=as_json)
    if status["weak"] and not as_json:
        typer.echo(f"warning: candidates run with the weak isolation backend '{status['backend']}' "
                   f"({status.get('weakness', 'weaker than bubblewrap')}); scores are marked weak_isolation", err=True)
    return status


def _isolation_line(isolation: str | None, weak: bool | None) -> str:
    return f"  [WEAK ISOLATION: {isolation}]" if weak else ""


def _load_problem(name_or_path: str, as_json: bool) -> Any:
    from problems.registry import get_problem

    try:
        return get_problem(name_or_path)
    except (LookupError, ValueError) as exc:
        _fail(str(exc), as_json=as_json)


@app.command("problems")
def problems_cmd(as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout.")) -> None:
    """List the built-in problems with their kind and a one-line description."""
    from problems.registry import list_problems

    specs = list_problems()
    if as_json:
        typer.echo(json.dumps({"problems": [
            {"name": s.name, "kind": s.kind, "metric": s.metric, "summary": _first_line(s.description),
             "budget": s.budget.model_dump()} for s in specs]}))
        return
    width = max(len(s.name) for s in specs)
    for s in specs:
        typer.echo(f"{s.name:<{width}}  {s.kind:<10}  {_first_line(s.description)}")


def _first_line(markdown: str) -> str:
    for line in markdown.splitlines():
        text = line.strip().lstrip("#").strip()
        if text:
            return text[:100]
    return ""


@app.command("evaluate")
def evaluate_cmd(
    file: Optional[Path] = typer.Argument(None, help="Candidate module with solve(task); default: the shipped "
                                          "baseline for the problem's kind."),
    problem: str = typer.Option(..., "--problem", "-p", help="Built-in problem name or a user problem path."),
    seed: int = typer.Option(0, "--seed", help="Seed handed to the candidate."),
    wall_seconds: Optional[float] = typer.Option(None, "--wall-seconds", help="Override the wall budget."),
    steps: Optional[int] = typer.Option(None, "--steps", help="A step budget: train this many optimiser steps "
                                        "(the score then does not depend on the machine's load)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
    allow_weak_isolation: bool = _allow_weak_option(),
) -> None:
    """Run one candidate isolated and score it against the hidden targets."""
    from app.isolation import marks
    from baselines import baseline_path
    from sandbox.evaluate import Evaluator

    prob = _load_problem(problem, as_json)
    if file is None:
        file = baseline_path(prob.spec.kind)
    if not file.is_file():
        _fail(f"candidate file not found: {file}", as_json=as_json)
    try:
        code = file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read candidate file {file}: {exc}", as_json=as_json)
    if wall_seconds is not None and not (0 < wall_seconds <= 86400):
        _fail("--wall-seconds must be in (0, 86400]", as_json=as_json)
    if steps is not None and not (1 <= steps <= 100_000_000):
        _fail("--steps must be in [1, 100000000]", as_json=as_json)
    _isolation_gate(allow_weak_isolation, as_json)
    settings = get_settings()
    progress = None if as_json else _progress_printer()
    with Evaluator.from_settings(settings) as evaluator:
        result = evaluator.evaluate(code, prob, seed=seed, budget={"wall_seconds": wall_seconds, "max_steps": steps},
                                    on_log=progress)
    weak = marks(result.protections).get("weak_isolation")
    if weak and not (allow_weak_isolation or settings.allow_weak_isolation):  # known only now (Ray nodes)
        from app.isolation import refusal_message

        _fail(refusal_message(result.protections["backend"]) + "; the score is withheld", as_json=as_json)
    if as_json:
        typer.echo(json.dumps({**result.summary(), **marks(result.protections), "candidate": str(file)}))
    else:
        _print_result(result, file)
    raise typer.Exit(0 if result.status == "succeeded" else 1)


def _progress_printer():
    last = {"t": -1.0}

    def show(record: dict[str, Any]) -> None:
        if record.get("t", 0) - last["t"] >= 2.0:
            last["t"] = record.get("t", 0)
            metrics = ", ".join(f"{k}={v:.3g}" for k, v in record.items() if k not in ("step", "t"))
            typer.echo(f"  step {record.get('step')}  t={record.get('t', 0):.1f}s  {metrics}", err=True)

    return show


def _print_result(result: Any, file: Path) -> None:
    typer.echo(f"problem:     {result.problem}")
    typer.echo(f"candidate:   {file}")
    typer.echo(f"status:      {result.status}")
    if result.reason:
        typer.echo(f"reason:      {result.reason}")
    from app.isolation import marks

    mark = marks(result.protections)
    if result.score is not None:
        typer.echo(f"score:       {result.score:.4e} ({result.metric})"
                   + _isolation_line(mark.get("isolation"), mark.get("weak_isolation")))
    if mark:
        typer.echo(f"isolation:   {mark['isolation']}" + (" (WEAK: weaker than bubblewrap; the candidate could read "
                                                         "host files, so this score may not be trustworthy)"
                                                         if mark["weak_isolation"] else ""))
    typer.echo(f"wall time:   {result.wall_seconds:.2f} s (start-up {result.startup_seconds:.2f} s), "
               f"CPU {result.cpu_seconds:.2f} s")
    step_budget = (result.budget or {}).get("max_steps")
    if result.steps is not None or step_budget:
        typer.echo(f"steps:       {result.steps if result.steps is not None else '?'}"
                   + (f" of a {step_budget}-step budget" if step_budget else "") + " (counted by the candidate)")
    typer.echo("protections:")
    for key, value in result.protections.items():
        typer.echo(f"  {key}: {value}")
    if result.traceback:
        typer.echo("traceback (last lines):")
        typer.echo("\n".join(result.traceback.strip().splitlines()[-8:]))


# -- campaigns -------------------------------------------------------------------------------------------------
class _CampaignProgress:
    """A live, line-based progress display on stderr: what happens, the best score so far, elapsed time."""

    def __init__(self, enabled: bool) -> None:
        import time

        self.enabled = enabled
        self.start = time.monotonic()
        self.best: float | None = None
        self._time = time

    def __call__(self, type_: str, payload: dict[str, Any], node_id: int | None) -> None:
        if not self.enabled:
            return
        elapsed = self._time.monotonic() - self.start
        if type_ == "evaluation.finished" and payload.get("score") is not None:
            if self.best is None or payload["score"] < self.best:
                self.best = payload["score"]
        best = "—" if self.best is None else f"{self.best:.3e}"
        line = None
        if type_ == "node.created":
            line = f"node #{node_id} (iteration {payload.get('iteration')}): {payload.get('title')}"
        elif type_ == "evaluation.started":
            line = f"node #{node_id}: training"
        elif type_ == "evaluation.finished":
            if payload.get("status") == "succeeded":
                line = f"node #{node_id}: score {payload['score']:.3e}" + _isolation_line(
                    payload.get("isolation"), payload.get("weak_isolation"))
            else:
                line = f"node #{node_id}: failed ({payload.get('failure')}: {str(payload.get('reason'))[:80]})"
        elif type_ == "node.skipped":
            line = f"node #{node_id}: skipped, {payload.get('reason')}"
        elif type_ == "debug.attempt":
            line = f"node #{node_id}: debugger attempt {payload.get('attempt')}: {str(payload.get('diagnosis'))[:80]}"
        elif type_ == "iteration.finished":
            line = f"iteration {payload.get('iteration')} done"
        elif type_ == "training.log":
            metrics = ", ".join(f"{k}={v:.3g}" for k, v in payload.items() if k not in ("step", "t"))
            line = f"node #{node_id}: step {payload.get('step')} {metrics}"
        elif type_.startswith("campaign."):
            line = f"campaign {type_.split('.', 1)[1]} {payload.get('reason', '')}".rstrip()
        if line:
            typer.echo(f"[{elapsed:7.1f}s | best {best}] {line}", err=True)


def _services(warm_workers: int | None = None):
    from app.campaigns.service import open_services

    return open_services(get_settings(), warm_workers=warm_workers)


def _print_summary(summary: dict[str, Any], as_json: bool, extra: dict[str, Any] | None = None) -> None:
    if as_json:
        typer.echo(json.dumps({**summary, **(extra or {})}, default=str))
        return
    factor = summary.get("improvement_factor")
    typer.echo(f"campaign {summary['campaign_id']} ({summary['problem']}): {summary['status']}")
    typer.echo(f"  root score      {summary['root_score']}")
    typer.echo(f"  champion score  {summary['champion_score']} (node #{summary['champion_node_id']})"
               + (f", {factor:.1f}x better than the root" if factor else ""))
    typer.echo(f"  iterations {summary['iterations']}, evaluations {summary['evaluations']}, "
               f"failures {summary['failures']}, wall {summary['wall_seconds']:.1f} s")
    selection = summary.get("champion_selection") or {}
    if selection.get("text"):
        typer.echo(f"  champion chosen by {selection['text']}")
    reeval = summary.get("champion_reeval") or {}
    if reeval.get("mean") is not None:
        typer.echo(f"  champion over seeds {list(reeval['scores_by_seed'])}: {reeval['mean']:.4g} "
                   f"+- {reeval['std']:.2g}" + (f", {reeval['failed_seeds']} seed(s) failed" if reeval["failed_seeds"] else ""))
    debates = summary.get("debates") or {}
    if debates.get("held"):
        typer.echo(f"  debates {debates['held']}, {debates['changed_plan']} changed the opening plan "
                   f"({', '.join(f'{k} {v}' for k, v in sorted(debates['verdicts'].items()))}); "
                   f"numbers from the sampler in {debates['numbers_sampled']}")
    isolation = summary.get("isolation") or {}
    if isolation.get("weak_isolation"):
        backends = ", ".join(f"{k} {v}" for k, v in sorted(isolation["backends"].items()))
        typer.echo(f"  WEAK ISOLATION: {isolation['weak_scores']} score(s) came from a sandbox weaker than bubblewrap "
                   f"({backends}); a candidate could read host files, so they may not be trustworthy")
    for key, value in (extra or {}).items():
        typer.echo(f"  {key}: {value}")


def _run_to_end(services, campaign_id: str, as_json: bool) -> dict[str, Any]:
    import signal

    from app.campaigns.service import run_campaign

    holder: dict[str, Any] = {}

    def hook(engine) -> None:
        holder["engine"] = engine

        def interrupt(signum, frame) -> None:  # first Ctrl-C pauses cleanly; the second one kills
            engine.cancel.set()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            typer.echo("interrupting: the current evaluation stops and the campaign is paused "
                       f"(resume with: agentic-sciml resume {campaign_id})", err=True)

        signal.signal(signal.SIGINT, interrupt)
        signal.signal(signal.SIGTERM, interrupt)

    return run_campaign(services, campaign_id, on_event=_CampaignProgress(not as_json), engine_hook=hook)


@app.command("run")
def run_cmd(
    problem: str = typer.Option(..., "--problem", "-p", help="Built-in problem name or a user problem path."),
    iterations: int = typer.Option(4, "--iterations", "-n", help="Iterations after the root."),
    parents: int = typer.Option(2, "--parents", "-k", help="Parents mutated per iteration (K)."),
    seed: int = typer.Option(0, "--seed"),
    concurrency: int = typer.Option(1, "--concurrency", help="Children evaluated in parallel."),
    candidate_seconds: Optional[float] = typer.Option(None, "--candidate-seconds",
                                                      help="Wall budget per candidate (default: the problem's)."),
    candidate_steps: Optional[int] = typer.Option(
        None, "--candidate-steps", help="Step budget per candidate: optimiser steps instead of seconds, so scores "
        "do not move with the machine's load (the wall budget stays the cap)."),
    debate_rounds: int = typer.Option(4, "--debate-rounds", help="Proposer/critic rounds; 0: the proposer alone."),
    knob_sampler: str = typer.Option("tpe", "--knob-sampler",
                                     help="Numbers of a move: tpe (learned from the tree) or fixed (the rules)."),
    debug_attempts: int = typer.Option(2, "--debug-attempts"),
    smoke_seconds: float = typer.Option(3.0, "--smoke-seconds", help="Cascade smoke-run budget; 0 disables."),
    target_score: Optional[float] = typer.Option(None, "--target-score"),
    max_wall_seconds: Optional[float] = typer.Option(None, "--max-wall-seconds"),
    reeval_seeds: str = typer.Option("", "--reeval-seeds", help="Comma-separated seeds to re-run the champion."),
    champion_by: str = typer.Option("score", "--champion-by", help="score (best single-seed score) or seed_mean "
                                    "(the best few re-run on --reeval-seeds; the best mean wins)."),
    reeval_top: int = typer.Option(3, "--reeval-top", help="With --champion-by seed_mean: nodes re-run."),
    team: str = typer.Option("offline", "--team", help="offline (no LLM) or llm (needs --providers)."),
    providers: Optional[Path] = typer.Option(None, "--providers", help="Providers YAML for the LLM team."),
    max_cost_usd: Optional[float] = typer.Option(None, "--max-cost-usd", help="LLM spending cap."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", help="LLM token cap."),
    export_dir: Optional[Path] = typer.Option(None, "--export", help="Export the result here when done."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout at the end."),
    allow_weak_isolation: bool = _allow_weak_option(),
) -> None:
    """Run a discovery campaign: analyse, score the root, evolve the tree, report the champion."""
    from pydantic import ValidationError

    from app.campaigns.config import CampaignConfig
    from app.campaigns.service import create_campaign

    try:
        seeds = [int(x) for x in reeval_seeds.split(",") if x.strip()]
        config = CampaignConfig(
            problem=problem, iterations=iterations, parents=parents, seed=seed, concurrency=concurrency,
            candidate_seconds=candidate_seconds, candidate_steps=candidate_steps, champion_by=champion_by,
            reeval_top=reeval_top, debate_rounds=debate_rounds, debug_attempts=debug_attempts,
            knob_sampler=knob_sampler, smoke_seconds=smoke_seconds, target_score=target_score, max_wall_seconds=max_wall_seconds,
            reeval_seeds=seeds, team=team, providers_file=str(providers) if providers else None,
            max_cost_usd=max_cost_usd, max_tokens=max_tokens,
        )
    except (ValidationError, ValueError) as exc:
        _fail(_validation_message(exc), as_json=as_json)
    _isolation_gate(allow_weak_isolation, as_json)
    if allow_weak_isolation:  # stored with the campaign: a resume keeps the consent
        config = config.model_copy(update={"allow_weak_isolation": True})
    with _services(warm_workers=max(1, concurrency)) as services:
        try:
            campaign_id = create_campaign(services.db, config)
        except (LookupError, ValueError) as exc:
            _fail(str(exc), as_json=as_json)
        if not as_json:
            typer.echo(f"campaign {campaign_id} on {problem}", err=True)
        summary = _run_to_end(services, campaign_id, as_json)
        extra = _maybe_export(services, campaign_id, export_dir)
    _print_summary(summary, as_json, extra)


def _validation_message(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        parts = []
        for e in errors():
            where = ".".join(str(p) for p in e["loc"])
            message = e["msg"].removeprefix("Value error, ")
            parts.append(f"{where}: {message}" if where else message)
        return "; ".join(parts)
    return str(exc)


def _maybe_export(services, campaign_id: str, export_dir: Optional[Path]) -> dict[str, Any]:
    if export_dir is None:
        return {}
    from app.campaigns.report import export_campaign

    result = export_campaign(services.db, services.store, campaign_id, export_dir)
    return {"report": str(Path(result["export_dir"]) / "report.md")}


@app.command("resume")
def resume_cmd(
    campaign_id: str = typer.Argument(..., help="Campaign id (see `agentic-sciml list`)."),
    as_json: bool = typer.Option(False, "--json"),
    allow_weak_isolation: bool = _allow_weak_option(),
) -> None:
    """Continue an interrupted campaign: finished nodes are kept, unfinished work is redone."""
    from app.campaigns.engine import campaign_summary

    with _services(warm_workers=1) as services:
        try:
            before = campaign_summary(services.db, campaign_id)
        except LookupError as exc:
            _fail(str(exc), as_json=as_json)
        if before["status"] in ("completed", "cancelled"):
            _fail(f"campaign {campaign_id} is {before['status']}; nothing to resume", as_json=as_json)
        _isolation_gate(allow_weak_isolation or before["isolation"]["allow_weak_isolation"], as_json)
        if allow_weak_isolation:
            _grant_weak_isolation(services.db, campaign_id)
        summary = _run_to_end(services, campaign_id, as_json)
    _print_summary(summary, as_json)


def _grant_weak_isolation(db: Any, campaign_id: str) -> None:
    """Record the consent given on this command line in the campaign's configuration."""
    from app.db import repository as repo

    with db.session_scope() as s:
        campaign = repo.get_campaign(s, campaign_id)
        campaign.config = {**campaign.config, "allow_weak_isolation": True}


@app.command("replay")
def replay_cmd(
    campaign_id: str = typer.Argument(..., help="An LLM campaign whose exchanges were recorded."),
    strict: bool = typer.Option(True, "--strict/--lenient",
                                help="Strict: refuse any request that is not in the recording."),
    as_json: bool = typer.Option(False, "--json"),
    allow_weak_isolation: bool = _allow_weak_option(),
) -> None:
    """Re-run a recorded LLM campaign offline: same answers, same tree, and with the same seeds the same scores."""
    from app.campaigns.config import CampaignConfig
    from app.campaigns.engine import campaign_summary
    from app.campaigns.service import create_campaign, recording_path

    settings = get_settings()
    with _services(warm_workers=1) as services:
        try:
            original = campaign_summary(services.db, campaign_id)
        except LookupError as exc:
            _fail(str(exc), as_json=as_json)
        path = recording_path(settings, campaign_id)
        if not path.is_file():
            _fail(f"campaign {campaign_id} has no recording at {path} (only LLM campaigns are recorded)",
                  as_json=as_json)
        from agents.llm.recording import NodeAliases, ReplayDivergence
        from agents.llm.team import LLMTeam
        from app.db import repository as repo

        with services.db.session_scope(readonly=True) as s:
            stored = dict(repo.get_campaign(s, campaign_id).config)
            # The replay's nodes get new ids; models are shown the ids the recorded campaign had.
            aliases = NodeAliases((n.id, n.parent_id, n.iteration) for n in repo.list_nodes(s, campaign_id))
        config = CampaignConfig(**{k: v for k, v in stored.items() if not k.startswith("_")})
        _isolation_gate(allow_weak_isolation, as_json)  # the recording's consent is not this run's
        config = config.model_copy(update={"allow_weak_isolation": allow_weak_isolation})
        new_id = create_campaign(services.db, config, name=f"replay of {campaign_id}")
        team = LLMTeam.from_recording(path, strict=strict, campaign_id=new_id, node_aliases=aliases)
        try:
            summary = _run_replay(services, new_id, team, aliases, as_json)
        except ReplayDivergence as exc:
            _fail(f"{exc}\nreplay campaign {new_id} stopped (marked failed); `--lenient` answers such requests "
                  "with the role's next recorded answer instead", as_json=as_json, code=1)
    _print_summary(summary, as_json, {"replay_of": campaign_id, "original_champion_score": original["champion_score"]})


def _run_replay(services, campaign_id: str, team, aliases, as_json: bool) -> dict[str, Any]:
    from app.campaigns.service import run_campaign
    from app.db import repository as repo

    progress = _CampaignProgress(not as_json)

    def on_event(type_: str, payload: dict[str, Any], node_id: int | None) -> None:
        if node_id is not None and not aliases.knows(node_id):  # a node the engine just created
            with services.db.session_scope(readonly=True) as s:
                node = repo.get_node(s, node_id)
                if node is not None:
                    aliases.observe(node.id, node.parent_id, node.iteration)
        progress(type_, payload, node_id)

    return run_campaign(services, campaign_id, on_event=on_event, team=team)


@app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json")) -> None:
    """Campaigns, newest last, with status and scores."""
    from app.campaigns.engine import campaign_summary
    from app.campaigns.service import open_database
    from app.db import repository as repo

    db = open_database(get_settings())
    with db.session_scope(readonly=True) as s:
        ids = [c.id for c in reversed(repo.list_campaigns(s, limit=10_000))]
    rows = [campaign_summary(db, cid) for cid in ids]
    if as_json:
        typer.echo(json.dumps({"campaigns": rows}, default=str))
        return
    if not rows:
        typer.echo("no campaigns yet: start one with `agentic-sciml run --problem NAME`")
    for r in rows:
        root = "—" if r["root_score"] is None else f"{r['root_score']:.3e}"
        champ = "—" if r["champion_score"] is None else f"{r['champion_score']:.3e}"
        typer.echo(f"{r['campaign_id']}  {r['problem'] or '':<20} {r['status']:<10} root {root}  champion {champ}"
                   f"  evals {r['evaluations']}"
                   + ("  WEAK ISOLATION" if (r.get("isolation") or {}).get("weak_isolation") else ""))


@app.command("show")
def show_cmd(campaign_id: str = typer.Argument(...), as_json: bool = typer.Option(False, "--json")) -> None:
    """The tree of a campaign with scores and one-line proposals."""
    from app.campaigns.engine import campaign_summary
    from app.campaigns.report import format_tree, tree_rows
    from app.campaigns.service import open_database

    db = open_database(get_settings())
    try:
        summary = campaign_summary(db, campaign_id)
    except LookupError as exc:
        _fail(str(exc), as_json=as_json)
    rows = tree_rows(db, campaign_id)
    if as_json:
        typer.echo(json.dumps({**summary, "nodes": rows}, default=str))
        return
    _print_summary(summary, False)
    typer.echo(format_tree(rows, summary["champion_node_id"]))


@app.command("export")
def export_cmd(campaign_id: str = typer.Argument(...), directory: Path = typer.Argument(...),
               as_json: bool = typer.Option(False, "--json")) -> None:
    """Champion code, its lineage and a markdown report with the best-score curve, written to DIR."""
    from app.campaigns.report import export_campaign
    from app.campaigns.service import open_database
    from app.db.artifacts import ArtifactStore

    settings = get_settings()
    db = open_database(settings)
    try:
        result = export_campaign(db, ArtifactStore(settings.data_dir / "artifacts"), campaign_id, directory)
    except LookupError as exc:
        _fail(str(exc), as_json=as_json)
    if as_json:
        typer.echo(json.dumps(result, default=str))
    else:
        typer.echo(f"exported to {directory}: report at {directory / 'report.md'}")


# -- knowledge base --------------------------------------------------------------------------------------------
kb_app = typer.Typer(no_args_is_help=True, help="The method memory: curated and discovered method cards.")
app.add_typer(kb_app, name="kb")


def _kb():
    from knowledge_base.retrieval import MethodMemory

    return MethodMemory(get_settings().data_dir)


@kb_app.command("list")
def kb_list(kind: Optional[str] = typer.Option(None, "--kind", help="pinn, operator or regression"),
            as_json: bool = typer.Option(False, "--json")) -> None:
    """Every card with its family, kinds and origin (curated or discovered)."""
    cards = _kb().list(kind)
    rows = [{"id": c.id, "title": c.title, "family": c.family, "kinds": list(c.kinds), "origin": c.origin}
            for c in cards]
    if as_json:
        typer.echo(json.dumps({"cards": rows}))
        return
    for r in rows:
        typer.echo(f"{r['id']:<40} {r['family']:<22} {','.join(r['kinds']):<22} {r['origin']}")


@kb_app.command("search")
def kb_search(query: str = typer.Argument(..., help="A problem situation, in words."),
              k: int = typer.Option(5, "--k", min=1, max=100),
              kind: Optional[str] = typer.Option(None, "--kind"),
              as_json: bool = typer.Option(False, "--json")) -> None:
    """The cards nearest to a situation (dense + keyword ranking)."""
    if not query.strip():
        _fail("the query is empty", as_json=as_json)
    hits = _kb().search(query, kind=kind, k=k)
    if as_json:
        typer.echo(json.dumps({"query": query, "hits": [h.model_dump() for h in hits]}, default=str))
        return
    for h in hits:
        typer.echo(f"{h.score:6.3f}  {h.card_id:<40} {h.title}")


@kb_app.command("add")
def kb_add(file: Path = typer.Argument(..., help="A method card in markdown with front matter."),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Add (or replace) a discovered card and index it."""
    if not file.is_file():
        _fail(f"card file not found: {file}", as_json=as_json)
    try:
        card = _kb().add_card(file)
    except (ValueError, KeyError) as exc:
        _fail(str(exc), as_json=as_json)
    if as_json:
        typer.echo(json.dumps({"added": card.id, "title": card.title}))
    else:
        typer.echo(f"added {card.id}: {card.title}")


@kb_app.command("rebuild")
def kb_rebuild(full: bool = typer.Option(False, "--full", help="Re-embed every card."),
               as_json: bool = typer.Option(False, "--json")) -> None:
    """Bring the index up to date; only changed cards are re-embedded unless --full."""
    report = _kb().rebuild(full=full)
    if as_json:
        typer.echo(json.dumps(report.model_dump()))
    else:
        typer.echo(f"embedded {len(report.embedded)}, reused {len(report.reused)}, removed {len(report.removed)}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()


# Service commands (serve, worker, keys) register themselves on ``app``; imported last because they use the
# helpers above.
from app import cli_service  # noqa: E402,F401
from app import cli_schedule  # noqa: E402,F401  (batch and schedule commands)
from app import cli_db  # noqa: E402,F401  (db upgrade|current|workers, for deployments)

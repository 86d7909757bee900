"""A short LLM campaign against a real model: SmolLM2-135M-Instruct served by llama.cpp's server.

A 135M model writes poor code and sloppy JSON, which is the point: real model output must go through the
protocol, the parsing and the repair paths, and the campaign must end in a consistent state whatever the
model said. Needs the ``local-llm`` extra (see pyproject.toml); skipped otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "local_llm.py"


def _load_benchmark():
    spec = importlib.util.spec_from_file_location("local_llm_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


local_llm = _load_benchmark()
MISSING = local_llm.missing_requirements()


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.skipif(MISSING is not None, reason=f"no local model: {MISSING}")
def test_a_real_small_model_drives_a_campaign_to_a_consistent_end(tmp_path) -> None:
    # One iteration with a one-round debate (just the final proposal): about ten exchanges, each a minute
    # or more on a CPU, since prompts are thousands of tokens.
    args = argparse.Namespace(iterations=1, parents=1, debate_rounds=1, candidate_seconds=5.0, max_tokens=250,
                              code_max_tokens=700, n_ctx=8192, threads=1, read_timeout=600.0, timeout=3000.0,
                              keep=str(tmp_path / "data"), json=True)
    result = local_llm.run(args)
    summary = result["summary"]
    assert summary is not None, result["cli_stderr_tail"]
    # Whatever the model wrote, the campaign ended by a rule, not by a crash, and its state adds up.
    assert summary["status"] in ("completed", "paused"), result["cli_stderr_tail"]
    assert result["consistent"], result["consistency_problems"]
    assert result["tokens_in"] > 0 and result["tokens_out"] > 0
    by_role = result["exchanges_by_role"]
    assert by_role.get("data_analyst") == 1 and by_role.get("root_engineer", 0) >= 1
    if summary["status"] == "completed":
        assert result["nodes_created"] >= 2 and by_role.get("proposer", 0) >= 1
        assert result["nodes_succeeded"] + result["nodes_failed"] == result["nodes_created"]
    # Every exchange the model answered is in the recording.
    recording = Path(args.keep) / "recordings" / f"{summary['campaign_id']}.jsonl"
    assert sum(1 for line in recording.read_text().splitlines() if '"type":"exchange"' in line) == result["exchanges"]

"""`agentic-sciml kb ...` as a script would use it (hashing embedder: fast and deterministic)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

SCRIPT = shutil.which("agentic-sciml", path=os.path.dirname(sys.executable)) or "agentic-sciml"
REPO = Path(__file__).resolve().parents[2]


def kb(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "AGENTIC_SCIML_DATA_DIR": str(tmp_path), "AGENTIC_SCIML_EMBEDDER": "hashing"}
    return subprocess.run([SCRIPT, "kb", *args], capture_output=True, text=True, env=env, timeout=300)


def test_kb_list_search_add_rebuild(tmp_path):
    listed = json.loads(kb(tmp_path, "list", "--json").stdout)["cards"]
    assert len(listed) >= 50 and all(c["origin"] == "curated" for c in listed)
    hits = json.loads(kb(tmp_path, "search", "causal weighting of residuals in time for PINNs", "--k", "3",
                         "--json").stdout)["hits"]
    assert len(hits) == 3 and "causal-training" in [h["card_id"] for h in hits]

    card = (REPO / "knowledge_base" / "cards" / "causal-training.md").read_text()
    new = tmp_path / "discovered-causal-variant.md"
    new.write_text(card.replace("id: causal-training", "id: discovered-causal-variant")
                   .replace("origin: curated", "origin: discovered"))
    added = kb(tmp_path, "add", str(new), "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["added"] == "discovered-causal-variant"
    report = json.loads(kb(tmp_path, "rebuild", "--json").stdout)
    assert report["embedded"] == []  # nothing changed since the add indexed it


def test_kb_bad_input(tmp_path):
    out = kb(tmp_path, "add", str(tmp_path / "missing.md"))
    assert out.returncode == 2 and "not found" in out.stderr
    bad = tmp_path / "bad.md"
    bad.write_text("no front matter here")
    out = kb(tmp_path, "add", str(bad))
    assert out.returncode == 2 and "front matter" in out.stderr and "Traceback" not in out.stderr

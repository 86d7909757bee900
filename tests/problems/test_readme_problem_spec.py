"""The problem spec shown in the README's "Your own PDE" section is a valid problem that compiles, and it is the
spec the shipped example of the same name uses (so the README cannot drift from what runs)."""

from __future__ import annotations

from pathlib import Path

import yaml

from agents.llm.parsing import find_fences
from problems.user import UserProblemConfig
from sandbox.runtime.pde import build_pde

ROOT = Path(__file__).resolve().parents[2]


def _problem_blocks() -> list[dict]:
    blocks = [yaml.safe_load(f.body) for f in find_fences((ROOT / "README.md").read_text()) if f.lang == "yaml"]
    return [b for b in blocks if isinstance(b, dict) and "kind" in b]


def test_the_readme_pde_spec_compiles_and_matches_its_example() -> None:
    blocks = _problem_blocks()
    assert blocks, "the README shows no problem spec"
    for block in blocks:
        config = UserProblemConfig.model_validate(block)
        pde = build_pde(block["pde"])
        assert pde.dim == len(block["pde"]["variables"])
        example = ROOT / "problems" / "examples" / config.name / "problem.yaml"
        assert example.is_file(), example
        shipped = yaml.safe_load(example.read_text())["pde"]
        assert build_pde(shipped).to_spec() == pde.to_spec()

"""Agent-visible descriptions never state the reference solution (issue 13, item 5).

The reference lives only in the solver (``generate``) and in the tests; a description says what to solve,
how it is scored and what the literature achieved. Checked for every built-in problem, every example user
problem (``problems/examples``) and every problem of the PDE suite (``benchmarks/pde_suite``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from problems.builtin import convection1d, helmholtz2d
from problems.registry import BUILTINS, get_problem

ROOT = Path(__file__).resolve().parents[2]
DIRECTORIES = sorted(
    p.parent for base in (ROOT / "problems" / "examples", ROOT / "benchmarks" / "pde_suite")
    for p in base.glob("*/problem.yaml")
)
ALL = [*BUILTINS, *(str(d) for d in DIRECTORIES)]

# Fragments of the references that the descriptions of convection1d, burgers1d and helmholtz2d used to state
# (the closed form, or how the reference is computed), normalised like the text: lower case, no blanks, * or ^.
SECRETS: dict[str, tuple[str, ...]] = {
    "convection1d": (
        "sin(x-betat)", "sin(x-beta*t)", "sin(x-30t)", "x-betat", "x-30t", "methodofcharacteristics",
        "characteristics", "travelsright", "atspeedbeta",
    ),
    "burgers1d": (
        "cole-hopf", "cole–hopf", "colehopf", "gauss-hermite", "gauss–hermite", "hopf-cole",
    ),
    "helmholtz2d": (
        "sin(1pix)sin(4piy)", "sin(pix)sin(4piy)", "-166.78", "166.7833", "builtfrom", "manufactured",
        "u=sin(", "u(x,y)=sin",
    ),
}
GENERIC = ("exactsolution", "analyticalsolution", "analyticsolution", "closedform", "closed-form",
           "manufacturedsolution", "thereferenceisthe")


def _normalise(text: str) -> str:
    return re.sub(r"[\s*^]", "", text.lower())


def _label(name: str) -> str:
    return Path(name).name


@pytest.fixture(scope="module")
def specs():
    return {name: get_problem(name).spec for name in ALL}


def test_every_problem_is_covered():
    assert len(DIRECTORIES) >= 4 + 7  # the example user problems and the PDE suite
    assert {"convection1d", "helmholtz2d"} <= set(BUILTINS)


@pytest.mark.parametrize("name", ALL, ids=_label)
def test_description_states_no_reference(name, specs):
    spec = specs[name]
    text = _normalise(spec.description)
    for phrase in GENERIC:
        assert phrase not in text, f"{spec.name}: description says {phrase!r}"
    for secret in SECRETS.get(spec.name, ()):
        assert _normalise(secret) not in text, f"{spec.name}: description contains {secret!r}"
    # No statement of the whole solution "u(x, t) = ..." over all of the problem's variables (conditions such
    # as "u(x, 0) = sin(x)" fix one variable and are part of the problem).
    if spec.pde:
        names = [next(iter(v)) for v in spec.pde["variables"]]
        unknown = spec.pde.get("unknown", "u")
        statement = f"{unknown}({','.join(names)})="
        assert statement not in text.replace("==", ""), f"{spec.name}: description states {statement!r}"


@pytest.mark.parametrize("name", ["convection1d", "helmholtz2d"])
def test_description_still_quotes_the_literature(name, specs):
    spec = specs[name]
    assert "## Literature" in spec.description
    assert re.search(r"\d(\.\d+)?e-\d", spec.description), "a literature error figure is quoted"
    assert spec.literature


def test_secrets_describe_the_real_references():
    """The fragments above are the references' actual formulas (so the check is not vacuous)."""
    rng = np.random.default_rng(0)
    points = rng.uniform(0.0, 1.0, (64, 2))
    beta = convection1d.Convection1DProblem.params["beta"]
    np.testing.assert_allclose(convection1d.exact_solution(points, beta),
                               np.sin(points[:, 0] - beta * points[:, 1]))
    p = helmholtz2d.Helmholtz2DProblem.params
    assert (p["a1"], p["a2"]) == (1.0, 4.0)
    np.testing.assert_allclose(helmholtz2d.manufactured_solution(points, p["a1"], p["a2"]),
                               np.sin(np.pi * points[:, 0]) * np.sin(4 * np.pi * points[:, 1]))
    amplitude = p["k"] ** 2 - (p["a1"] ** 2 + p["a2"] ** 2) * np.pi ** 2
    assert f"{amplitude:.4f}".startswith("-166.78")

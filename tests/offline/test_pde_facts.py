"""The equation-reading analyst: facts follow from the terms of any spec, never from a name."""

from __future__ import annotations

import json
import math

import pytest

from agents.offline.pde_facts import pde_facts
from problems.pde_symbolic import to_symbolic
from sandbox.runtime.pde import build_pde
from tests.pde_specs import HEAT, LSHAPE, WAVE


def facts_of(spec: dict) -> tuple[dict, list[str]]:
    facts, sentences = pde_facts(to_symbolic(build_pde(spec)))
    json.dumps(facts)  # JSON-safe, whatever the equation
    return facts, sentences


def kinds(facts: dict) -> dict[str, int]:
    out: dict[str, int] = {}
    for term in facts["terms"]:
        out[term["kind"]] = out.get(term["kind"], 0) + 1
    return out


def convection(speed: float, names: tuple[str, str] = ("x", "t"), parameter: str = "beta") -> dict:
    x, t = names
    return {
        "variables": [{x: [0, "2*pi"]}, {t: [0, 1]}],
        "time": t,
        "parameters": {parameter: speed},
        "equation": f"u_{t} + {parameter}*u_{x}",
        "conditions": [{"where": f"{t} == 0", "value": f"sin({x})"}, {"periodic": x}],
    }


def test_heat_with_neumann_ends_is_plain_diffusion():
    facts, sentences = facts_of(HEAT)
    assert kinds(facts) == {"diffusion": 1}
    assert facts["time_order"] == 1 and facts["derivative_order"] == 2 and not facts["nonlinear"]
    assert facts["diffusivity"] == pytest.approx(0.1)
    assert not (facts["stiff"] or facts["transport_dominated"] or facts["oscillatory_solution"])
    assert [c["type"] for c in facts["conditions_summary"]] == ["initial_value", "neumann", "neumann"]
    assert any("Neumann" in s for s in sentences)


def test_wave_speed_and_frequency_come_from_the_second_order_time_derivative():
    facts, _ = facts_of(WAVE)
    assert facts["time_order"] == 2 and facts["wave_speed"] == pytest.approx(2.0)
    assert facts["domain_crossings"] == pytest.approx(2.0)
    k0 = facts["initial_condition"]["dominant_wavenumber"]
    assert k0 > 0 and facts["temporal_frequency"] == pytest.approx(2.0 * k0)
    assert {c["type"] for c in facts["conditions_summary"]} == {"initial_value", "initial_velocity", "dirichlet"}


def test_lshape_has_one_reentrant_corner_and_a_resolved_source():
    facts, sentences = facts_of(LSHAPE)
    assert facts["time_order"] == 0 and facts["reentrant_corners"] == 1
    assert kinds(facts) == {"diffusion": 2, "source": 1}
    assert list(facts["source"]["wavenumbers"].values()) == pytest.approx([math.pi, math.pi], rel=0.05)
    assert any("re-entrant" in s for s in sentences)


def test_renaming_variables_and_parameters_changes_nothing():
    """The same equation under other names: identical numbers, so nothing keys on a name."""
    plain, _ = facts_of(convection(30.0))
    renamed, _ = facts_of(convection(30.0, names=("z", "s"), parameter="speed"))
    for key in ("temporal_frequency", "domain_crossings", "transport_speed", "residual_scale", "max_wavenumber"):
        assert renamed[key] == pytest.approx(plain[key]), key
    assert renamed["transport_dominated"] and renamed["oscillatory_solution"]


def test_transport_numbers_scale_with_the_speed():
    slow, _ = facts_of(convection(1.0))
    fast, _ = facts_of(convection(40.0))
    assert slow["domain_crossings"] < 1 and slow["temporal_frequency"] == 0 and not slow["transport_dominated"]
    assert fast["domain_crossings"] == pytest.approx(40 / (2 * math.pi))
    assert fast["temporal_frequency"] == pytest.approx(40.0, rel=0.02) and fast["oscillatory_solution"]


@pytest.mark.parametrize("rate, stiff", [(0.5, False), (8.0, True)])
def test_fisher_kpp_stiffness_and_front_width_follow_the_reaction_rate(rate: float, stiff: bool):
    spec = {
        "variables": {"x": [0, 1], "t": [0, 1]},
        "parameters": {"D": 1e-3, "r": rate},
        "equation": "u_t - D*u_xx - r*u*(1 - u)",
        "conditions": [{"where": "t == 0", "value": "exp(-50*x**2)"}, {"where": "boundary", "value": "0"}],
    }
    facts, _ = facts_of(spec)
    assert kinds(facts) == {"diffusion": 1, "reaction": 2} and facts["nonlinear"]
    assert facts["stiff"] is stiff
    assert facts["sharp_width"] == pytest.approx(math.sqrt(1e-3 / rate), rel=1e-6)


def test_kdv_dispersion_is_recognised():
    spec = {
        "variables": {"x": [-1, 1], "t": [0, 1]},
        "equation": "u_t + u*u_x + 0.0025*u_xxx",
        "conditions": [{"where": "t == 0", "value": "cos(pi*x)"}, {"periodic": "x"}],
    }
    facts, _ = facts_of(spec)
    assert kinds(facts) == {"transport": 1, "dispersion": 1} and facts["derivative_order"] == 3
    assert facts["dispersion"] == pytest.approx(0.0025)
    assert facts["sharp_width"] == pytest.approx(math.sqrt(0.0025 / 1.0), rel=0.02)


def test_steady_advection_diffusion_has_an_outflow_layer():
    spec = {
        "variables": {"x": [0, 1]},
        "parameters": {"eps": 0.01},
        "equation": "-eps*u_xx + u_x - 1",
        "conditions": [{"where": "boundary", "value": "0"}],
    }
    facts, _ = facts_of(spec)
    assert facts["peclet"] == pytest.approx(100.0) and facts["transport_dominated"]
    assert facts["sharp_width"] == pytest.approx(0.01)


def test_helmholtz_type_balance_gives_a_wavenumber():
    spec = {
        "variables": {"x": [0, 1], "y": [0, 1]},
        "equation": "u_xx + u_yy + 400*u",
        "conditions": [{"where": "boundary", "value": "sin(pi*x)"}],
    }
    facts, _ = facts_of(spec)
    assert facts["helmholtz_wavenumber"] == pytest.approx(20.0) and facts["oscillatory_solution"]
    assert facts["residual_scale"] >= 400


@pytest.mark.parametrize(
    "equation",
    ["u_t - sin(u_x)", "u_t*u - u_xx", "u_t - u_x*u_xx", "u_xt - u", "u_t - exp(u)*u_xx + abs(x)"],
)
def test_odd_equations_never_raise(equation: str):
    spec = {
        "variables": {"x": [0, 1], "t": [0, 1]},
        "equation": equation,
        "conditions": [{"where": "t == 0", "value": "x"}, {"where": "boundary", "value": "0"}],
    }
    facts, sentences = facts_of(spec)
    assert sentences and isinstance(facts, dict)
    assert "terms" in facts or "analysis_error" in facts


def _wave_with_modes(second_amplitude: float) -> dict:
    return {
        "variables": {"x": [0, 1], "t": [0, 1]},
        "equation": "u_tt = 4*u_xx",
        "conditions": [
            {"where": "t == 0", "value": f"sin(pi*x) + {second_amplitude}*sin(4*pi*x)"},
            {"where": "t == 0", "derivative": "u_t", "value": "0"},
            {"where": "boundary", "value": "0"},
        ],
    }


def test_a_weaker_but_real_mode_sets_the_wavenumber_and_the_frequency():
    """sin(pi x) dominates, but 0.5 sin(4 pi x) (20% of the energy) is what the network must resolve."""
    facts, _ = facts_of(_wave_with_modes(0.5))
    assert facts["wavenumbers"]["x"] == pytest.approx(4 * math.pi, rel=0.02)
    assert facts["temporal_frequency"] == pytest.approx(8 * math.pi, rel=0.02)  # c k at the fast mode
    assert facts["oscillatory_solution"]  # 4 periods over the interval at a fixed point
    faint, _ = facts_of(_wave_with_modes(0.05))  # 0.25% of the energy: not a mode the solution needs
    assert faint["wavenumbers"]["x"] == pytest.approx(math.pi, rel=0.02)
    assert not faint["oscillatory_solution"]


def test_oscillation_counts_periods_so_rescaling_the_domain_changes_nothing():
    def heat(length: float) -> dict:
        return {
            "variables": {"x": [0, length], "t": [0, 1]},
            "equation": "u_t = 0.001*u_xx",
            "conditions": [{"where": "t == 0", "value": f"sin(10*pi*x/{length})"}, {"where": "boundary", "value": "0"}],
        }

    short, long = facts_of(heat(1.0))[0], facts_of(heat(50.0))[0]
    assert short["max_cycles"] == pytest.approx(5.0, rel=0.02) == long["max_cycles"]
    assert short["oscillatory_solution"] and long["oscillatory_solution"]  # 0.63 rad per unit length, 5 periods

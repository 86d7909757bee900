"""PDE specs the tests share: small versions of the built-ins and three equations no built-in covers.

The user-style ones exercise what the built-ins do not: Neumann conditions (heat), a second-order time
derivative with an initial velocity (wave) and a non-rectangular domain with a re-entrant corner (L-shape).
"""

from __future__ import annotations

CONVECTION = {
    "variables": {"x": [0, "2*pi"], "t": [0, 1]},
    "parameters": {"beta": 1.0},
    "equation": "u_t + beta*u_x",
    "conditions": [{"where": "t == 0", "value": "sin(x)"}, {"periodic": "x"}],
}
BURGERS = {
    "variables": {"x": [-1, 1], "t": [0, 1]},
    "parameters": {"nu": 0.05},
    "equation": "u_t + u*u_x - nu*u_xx",
    "conditions": [{"where": "t == 0", "value": "-sin(pi*x)"}, {"where": "boundary", "value": "0"}],
}
HELMHOLTZ = {
    "variables": {"x": [-1, 1], "y": [-1, 1]},
    "parameters": {"k": 1.0, "a1": 1.0, "a2": 2.0},
    "equation": "u_xx + u_yy + k**2*u - (k**2 - (a1*pi)**2 - (a2*pi)**2)*sin(a1*pi*x)*sin(a2*pi*y)",
    "conditions": [{"where": "boundary", "value": "0"}],
}
HEAT = {
    "variables": {"x": [0, 1], "t": [0, 1]},
    "parameters": {"k": 0.1},
    "equation": "u_t = k*u_xx",
    "conditions": [
        {"where": "t == 0", "value": "cos(pi*x)"},
        {"where": "x == 0", "derivative": "u_x", "value": "0"},
        {"where": "x == 1", "derivative": "u_n", "value": "0"},
    ],
}
WAVE = {
    "variables": {"x": [0, 1], "t": [0, 1]},
    "parameters": {"c": 2},
    "equation": "u_tt - c**2*u_xx",
    "conditions": [
        {"where": "t == 0", "value": "sin(pi*x)"},
        {"where": "t == 0", "derivative": "u_t", "value": "2*pi*sin(2*pi*x)"},
        {"where": "boundary", "value": "0"},
    ],
}
LSHAPE = {
    "variables": {"x": [-1, 1], "y": [-1, 1]},
    "equation": "u_xx + u_yy + 2*pi**2*sin(pi*x)*sin(pi*y)",
    "conditions": [{"where": "boundary", "value": "0"}],
    "geometry": {"exclude": [{"x": [0, 1], "y": [-1, 0]}]},
}

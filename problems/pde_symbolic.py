"""The SymPy view of a spec-defined PDE: what the data analyst reasons with.

The sandbox compiles a spec to torch (``sandbox/runtime/pde.py``); the service side needs the same equation as
a symbolic object to classify its terms (transport, diffusion, reaction, ...) and to size their coefficients.
Both views are built from one parsed expression tree (``sandbox/runtime/pde_expr.py``), so they cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy


#: the parser's functions (``pde_expr.FUNCTIONS``) as SymPy functions
_SYMPY_FUNCTIONS = {
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "exp": sympy.exp,
    "log": sympy.log,
    "sqrt": sympy.sqrt,
    "tanh": sympy.tanh,
    "abs": sympy.Abs,
    "sign": sympy.sign,
}


@dataclass
class SymbolicCondition:
    """One condition of the spec, symbolically.

    Attributes:
        kind: ``"initial"`` (on ``t == t0``), ``"boundary"`` (a face or the whole boundary) or ``"periodic"``.
        where: the spec's text (``"t == 0"``, ``"x == 1"``, ``"boundary"``; the variable for periodic).
        face: ``(variable, value)`` for a face condition, ``None`` for the whole boundary or periodic.
        derivative: ``None`` (a value condition), a ``sympy.Derivative`` of the unknown (``u_x``, ``u_t``),
            or ``"normal"`` (the outward normal derivative).
        value: the prescribed value (a SymPy expression in the variables; parameters substituted);
            ``None`` for periodic conditions.
        equation: for general conditions (``equation: "u_x + 2*u - 1"``), the residual that must vanish on
            the face; ``None`` otherwise.
    """

    kind: str
    where: str
    face: tuple[str, float] | None = None
    derivative: Any = None
    value: sympy.Expr | None = None
    equation: sympy.Expr | None = None


@dataclass
class SymbolicPDE:
    """A spec-defined PDE as SymPy objects, with every parameter replaced by its number."""

    variables: list[str]
    bounds: dict[str, tuple[float, float]]
    time_variable: str | None
    symbols: dict[str, sympy.Symbol]
    unknown: sympy.Expr  # u(x, t): an applied undefined function of the symbols, in variable order
    residual: sympy.Expr  # derivatives as sympy.Derivative(unknown, x, x); zero where u solves the PDE
    parameters: dict[str, float] = field(default_factory=dict)
    conditions: list[SymbolicCondition] = field(default_factory=list)
    periodic: list[str] = field(default_factory=list)
    exclude: list[dict[str, tuple[float, float]]] = field(default_factory=list)


def _sympy_of(node: Any, symbols: dict[str, sympy.Symbol], unknown: sympy.Expr, params: dict[str, float],
              order: tuple[str, ...]) -> sympy.Expr:
    """A parsed spec expression as SymPy, parameters replaced by their values."""
    from sandbox.runtime import pde_expr as e

    def run(item: Any) -> sympy.Expr:
        if isinstance(item, e.Num):
            value = item.value
            return sympy.Integer(int(value)) if value == int(value) and abs(value) < 1e9 else sympy.Float(value)
        if isinstance(item, e.Var):
            return symbols[item.name]
        if isinstance(item, e.Param):
            value = params[item.name]
            return sympy.Integer(int(value)) if value == int(value) and abs(value) < 1e9 else sympy.Float(value)
        if isinstance(item, e.Field):
            if not item.order:
                return unknown
            wrt = [(symbols[name], count) for name, count in zip(order, item.counts) if count]
            return sympy.Derivative(unknown, *wrt)
        if isinstance(item, e.Neg):
            return -run(item.operand)
        if isinstance(item, e.Call):
            argument = run(item.argument)
            return _SYMPY_FUNCTIONS[item.function](argument)
        left, right = run(item.left), run(item.right)
        return {
            "+": lambda: left + right,
            "-": lambda: left - right,
            "*": lambda: left * right,
            "/": lambda: left / right,
            "**": lambda: left**right,
        }[item.op]()

    return run(node)


def to_symbolic(pde: Any) -> SymbolicPDE:
    """The SymPy view of a compiled :class:`~sandbox.runtime.pde.PDE` (same parse tree, no re-parsing)."""
    order = tuple(pde.variables)
    symbols = {name: sympy.Symbol(name, real=True) for name in order}
    unknown = sympy.Function(pde.unknown)(*[symbols[name] for name in order])
    params = dict(pde.params)

    def convert(node: Any) -> sympy.Expr:
        return _sympy_of(node, symbols, unknown, params, order)

    conditions: list[SymbolicCondition] = []
    for condition in pde.conditions:
        face = None
        if condition.where != "boundary" and condition.kind == "boundary" and condition.faces:
            first = condition.faces[0]
            face = (order[first.column], float(first.value))
        elif condition.kind == "initial":
            face = (pde.time_variable, float(pde.bounds[pde.index(pde.time_variable), 0]))
        derivative: Any = None
        if condition._derivative == "normal":
            derivative = "normal"
        elif condition._derivative is not None:
            derivative = convert(condition._derivative)
        conditions.append(
            SymbolicCondition(
                kind=condition.kind,
                where=condition.where,
                face=face,
                derivative=derivative,
                value=None if condition._value is None else convert(condition._value),
                equation=None if condition._equation is None else convert(condition._equation),
            )
        )
    for name in pde.periodic:
        conditions.append(SymbolicCondition(kind="periodic", where=name))
    spatial = [v for v in order if v != pde.time_variable]
    return SymbolicPDE(
        variables=list(order),
        bounds={name: (float(lo), float(hi)) for name, (lo, hi) in zip(order, pde.bounds)},
        time_variable=pde.time_variable,
        symbols=symbols,
        unknown=unknown,
        residual=convert(pde._equation),
        parameters=params,
        conditions=conditions,
        periodic=list(pde.periodic),
        exclude=[{name: (float(box[order.index(name), 0]), float(box[order.index(name), 1])) for name in spatial}
                 for box in pde.exclude],
    )

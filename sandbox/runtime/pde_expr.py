"""Expressions of a PDE spec, parsed without ``eval``: a whitelisted grammar over Python's ``ast``.

A spec's strings (``"u_t + u*u_x - nu*u_xx"``, ``"-sin(pi*x)"``, ``"t == 0"``) come from users, so they are
hostile until proven otherwise. They are parsed by :func:`ast.parse` in ``eval`` mode -- which builds a syntax
tree and runs nothing -- and every node is checked against an allow-list before it becomes one of the small
node classes below. Nothing a spec says is ever executed as Python: evaluation walks these nodes and calls
only the whitelisted numeric functions. Limits on length, nesting depth and exponents keep a crafted
expression from exhausting the parser, the recursion limit or the float range.

The module depends on the standard library only (numpy or torch are passed in as the numeric backend), so
the service validates a spec with exactly the code the sandbox later compiles it with.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

MAX_CHARS = 2000
MAX_NODES = 400
MAX_DEPTH = 40
MAX_EXPONENT = 32.0
MAX_DERIVATIVE_ORDER = 4
MAX_LITERAL = 1e12
FUNCTIONS = ("sin", "cos", "tan", "exp", "log", "sqrt", "tanh", "abs", "sign")
CONSTANTS = {"pi": math.pi}
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,15}$")
PARAMETER_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")


class SpecError(ValueError):
    """A spec that cannot be accepted; the message names the field and the offending token."""


# ------------------------------------------------------------------------------------------------------------
# Nodes
# ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Var:
    name: str


@dataclass(frozen=True)
class Param:
    name: str


@dataclass(frozen=True)
class Field:
    """The unknown or one of its partial derivatives: ``counts[j]`` derivatives in variable ``j``."""

    counts: tuple[int, ...]

    @property
    def order(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class Call:
    function: str
    argument: "Node"


@dataclass(frozen=True)
class Neg:
    operand: "Node"


@dataclass(frozen=True)
class Bin:
    op: str  # one of + - * / **
    left: "Node"
    right: "Node"


Node = Num | Var | Param | Field | Call | Neg | Bin

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


@dataclass(frozen=True)
class Symbols:
    """The names an expression may use."""

    variables: tuple[str, ...]
    parameters: tuple[str, ...] = ()
    unknown: str | None = None  # None: the unknown and its derivatives are not allowed here
    values: tuple[tuple[str, float], ...] = ()  # parameter values, for checking constant exponents

    def describe(self) -> str:
        parts = [f"variables {list(self.variables)}"]
        if self.parameters:
            parts.append(f"parameters {list(self.parameters)}")
        if self.unknown:
            parts.append(f"the unknown {self.unknown!r} and its derivatives ({self.unknown}_x, ...)")
        parts.append(f"functions {list(FUNCTIONS)} and the constant pi")
        return ", ".join(parts)


# ------------------------------------------------------------------------------------------------------------
# Parsing
# ------------------------------------------------------------------------------------------------------------
def _check_text(text: Any, where: str) -> str:
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise SpecError(f"{where}: expected an expression (a string or a number), got {type(text).__name__}")
    text = str(text)
    if len(text) > MAX_CHARS:
        raise SpecError(f"{where}: expression of {len(text)} characters, above the limit of {MAX_CHARS}")
    if not text.strip():
        raise SpecError(f"{where}: empty expression")
    depth = deepest = 0
    for char in text:
        depth += char == "("
        depth -= char == ")"
        deepest = max(deepest, depth)
    if deepest > MAX_DEPTH:
        raise SpecError(f"{where}: parentheses nested {deepest} deep, above the limit of {MAX_DEPTH}")
    return text


def _parse_tree(text: str, where: str) -> ast.AST:
    try:
        return ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        detail = exc.msg or "invalid syntax"
        column = f" at column {exc.offset}" if exc.offset else ""
        raise SpecError(f"{where}: not a valid expression ({detail}{column}): {text.strip()[:80]!r}") from None
    except (RecursionError, MemoryError, ValueError):
        raise SpecError(f"{where}: expression too complex to parse") from None


def parse_expression(text: Any, symbols: Symbols, where: str) -> Node:
    """Parse ``text`` into a :data:`Node`, allowing only the names in ``symbols``; raise :class:`SpecError`."""
    text = _check_text(text, where)
    tree = _parse_tree(text, where)
    return _Converter(symbols, where).convert(tree, 0)


def parse_constant(text: Any, where: str) -> float:
    """A number, or a constant expression such as ``"2*pi"``; finite."""
    if isinstance(text, bool):
        raise SpecError(f"{where}: expected a number, got {text!r}")
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        node = parse_expression(text, Symbols(variables=()), where)
        try:
            value = float(evaluate(node, MathBackend, {}, {}, None))
        except (OverflowError, ValueError, ZeroDivisionError) as exc:
            raise SpecError(f"{where}: {text!r} cannot be evaluated ({exc})") from None
    if not math.isfinite(value):
        raise SpecError(f"{where}: {text!r} is not a finite number")
    return value


def parse_face(text: Any, variables: tuple[str, ...], where: str) -> tuple[str, float]:
    """``"x == 1"`` (or ``"1 == x"``) -> ``("x", 1.0)``; the right side may be a constant expression."""
    text = _check_text(text, where)
    tree = _parse_tree(text, where)
    if not (isinstance(tree, ast.Compare) and len(tree.ops) == 1 and isinstance(tree.ops[0], ast.Eq)):
        raise SpecError(
            f"{where}: expected 'boundary' or a face such as '{variables[0] if variables else 'x'} == 0', "
            f"got {text.strip()[:80]!r}"
        )
    left, right = tree.left, tree.comparators[0]
    if isinstance(right, ast.Name) and not isinstance(left, ast.Name):
        left, right = right, left
    if not isinstance(left, ast.Name):
        raise SpecError(f"{where}: one side of '==' must be a variable, got {text.strip()[:80]!r}")
    if left.id not in variables:
        raise SpecError(f"{where}: unknown variable {left.id!r} (variables: {list(variables)})")
    constant = _Converter(Symbols(variables=()), where).convert(right, 1)
    try:
        value = float(evaluate(constant, MathBackend, {}, {}, None))
    except (OverflowError, ValueError, ZeroDivisionError) as exc:
        raise SpecError(f"{where}: the value of the face cannot be evaluated ({exc})") from None
    if not math.isfinite(value):
        raise SpecError(f"{where}: the value of the face is not finite")
    return left.id, value


def parse_derivative(text: Any, symbols: Symbols, where: str) -> Field:
    """``"u_x"`` -> ``Field((1, 0))``; must name a derivative of the unknown (order >= 1)."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError(f"{where}: expected a derivative such as '{symbols.unknown}_{symbols.variables[0]}'")
    node = parse_expression(text, symbols, where)
    if not isinstance(node, Field) or node.order == 0:
        raise SpecError(f"{where}: {text!r} is not a derivative of {symbols.unknown!r}")
    return node


def split_derivative(suffix: str, variables: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Every way of reading ``suffix`` (``"xx"``, ``"x1x2"``, ``"x_y"``) as a sequence of variable names."""
    pieces = [piece for piece in suffix.split("_")]
    if any(not piece for piece in pieces):
        return []
    readings: list[tuple[str, ...]] = [()]
    for piece in pieces:
        readings = [done + rest for done in readings for rest in _splits(piece, variables)]
        if len(readings) > 8:
            break
    return readings


def _splits(text: str, variables: tuple[str, ...]) -> list[tuple[str, ...]]:
    if not text:
        return [()]
    found: list[tuple[str, ...]] = []
    for name in variables:
        if text.startswith(name):
            found += [(name, *rest) for rest in _splits(text[len(name) :], variables)]
            if len(found) > 8:
                break
    return found


class _Converter:
    """Walks a Python syntax tree and admits only the whitelisted node types."""

    def __init__(self, symbols: Symbols, where: str) -> None:
        self.symbols = symbols
        self.where = where
        self.count = 0

    def fail(self, message: str) -> SpecError:
        return SpecError(f"{self.where}: {message}")

    def convert(self, node: ast.AST, depth: int) -> Node:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(f"expression has more than {MAX_NODES} terms and operators")
        if depth > MAX_DEPTH:
            raise self.fail(f"expression nested more than {MAX_DEPTH} deep")
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self.fail(f"unsupported literal {value!r} (only real numbers)")
            if not (abs(float(value)) <= MAX_LITERAL):  # also rejects huge ints and nan
                raise self.fail(f"number {str(value)[:40]} is larger than {MAX_LITERAL:g}")
            return Num(float(value))
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = self.convert(node.operand, depth + 1)
            return Neg(operand) if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            op = _BINARY[type(node.op)]
            left = self.convert(node.left, depth + 1)
            right = self.convert(node.right, depth + 1)
            if op == "**":
                self.check_exponent(right)
            return Bin(op, left, right)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        if isinstance(node, ast.Attribute):
            raise self.fail(f"attribute access '.{node.attr}' is not allowed")
        if isinstance(node, ast.Compare):
            raise self.fail("comparisons are not allowed in an expression")
        if isinstance(node, ast.Lambda):
            raise self.fail("lambda is not allowed")
        token = type(node).__name__
        if isinstance(node, ast.BinOp):
            token = type(node.op).__name__
        elif isinstance(node, ast.UnaryOp):
            token = type(node.op).__name__
        raise self.fail(f"unsupported syntax ({token}); allowed: + - * / **, numbers, names and function calls")

    def check_exponent(self, exponent: Node) -> None:
        if _mentions_unknown_or_variable(exponent):
            return  # a variable exponent stays bounded only if its base does; evaluation guards the range
        try:
            known = {name: 1.0 for name in self.symbols.parameters} | dict(self.symbols.values)
            value = float(evaluate(exponent, MathBackend, {}, known, None))
        except (OverflowError, ValueError, ZeroDivisionError):
            raise self.fail("exponent cannot be evaluated") from None
        if not abs(value) <= MAX_EXPONENT:
            raise self.fail(f"exponent {value:g} is larger than {MAX_EXPONENT:g}")

    def name(self, identifier: str) -> Node:
        symbols = self.symbols
        if identifier in symbols.variables:
            return Var(identifier)
        if identifier in symbols.parameters:
            return Param(identifier)
        if identifier in CONSTANTS:
            return Num(CONSTANTS[identifier])
        unknown = symbols.unknown
        if unknown is not None and identifier == unknown:
            return Field((0,) * len(symbols.variables))
        if unknown is not None and identifier.startswith(unknown + "_"):
            suffix = identifier[len(unknown) + 1 :]
            readings = split_derivative(suffix, symbols.variables)
            if not readings:
                raise self.fail(
                    f"{identifier!r} is a derivative of a variable that does not exist "
                    f"(variables: {list(symbols.variables)})"
                )
            if len(readings) > 1:
                raise self.fail(
                    f"{identifier!r} is ambiguous ({' or '.join('/'.join(r) for r in readings[:3])}); "
                    f"separate the variables with '_', e.g. {unknown}_{'_'.join(readings[0])}"
                )
            counts = tuple(readings[0].count(v) for v in symbols.variables)
            if sum(counts) > MAX_DERIVATIVE_ORDER:
                raise self.fail(f"{identifier!r} has order {sum(counts)}, above {MAX_DERIVATIVE_ORDER}")
            return Field(counts)
        if identifier in FUNCTIONS:
            raise self.fail(f"function {identifier!r} must be called, e.g. {identifier}(x)")
        if unknown is None and symbols.variables and re.match(r"^[A-Za-z]+_", identifier):
            raise self.fail(f"unknown symbol {identifier!r} (the unknown and its derivatives are not allowed here)")
        raise self.fail(f"unknown symbol {identifier!r}; allowed: {symbols.describe()}")

    def call(self, node: ast.Call, depth: int) -> Node:
        if not isinstance(node.func, ast.Name):
            called = ast.unparse(node.func)
            called = called if len(called) <= 40 else called[:37] + "..."
            raise self.fail(f"only the whitelisted functions may be called, by name (not {called!r})")
        name = node.func.id
        if name not in FUNCTIONS:
            raise self.fail(f"unknown function {name!r}; allowed: {list(FUNCTIONS)}")
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise self.fail(f"{name}() takes exactly one argument")
        return Call(name, self.convert(node.args[0], depth + 1))


def _mentions_unknown_or_variable(node: Node) -> bool:
    return any(isinstance(item, (Var, Field)) for item in walk(node))


def walk(node: Node):
    """Every node of the tree, parents first."""
    stack = [node]
    while stack:
        item = stack.pop()
        yield item
        if isinstance(item, Bin):
            stack += [item.right, item.left]
        elif isinstance(item, (Neg,)):
            stack.append(item.operand)
        elif isinstance(item, Call):
            stack.append(item.argument)


def fields(node: Node) -> set[Field]:
    """The unknown and the derivatives an expression uses."""
    return {item for item in walk(node) if isinstance(item, Field)}


def variables_used(node: Node) -> set[str]:
    return {item.name for item in walk(node) if isinstance(item, Var)}


def split_equation(text: Any, where: str) -> str:
    """``"lhs = rhs"`` -> ``"(lhs) - (rhs)"``; a residual without ``=`` is returned unchanged."""
    if not isinstance(text, str):
        return text
    splits, depth = [], 0
    for i, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if char == "=" and text[i - 1 : i] not in ("=", "<", ">", "!") and text[i + 1 : i + 2] != "=":
            if depth != 0:
                raise SpecError(f"{where}: '=' inside parentheses at column {i + 1}")
            splits.append(i)
    if not splits:
        return text
    if len(splits) > 1:
        raise SpecError(f"{where}: more than one '=' in the equation")
    left, right = text[: splits[0]], text[splits[0] + 1 :]
    if not left.strip() or not right.strip():
        raise SpecError(f"{where}: one side of '=' is empty")
    return f"({left}) - ({right})"


# ------------------------------------------------------------------------------------------------------------
# Evaluation
# ------------------------------------------------------------------------------------------------------------
class MathBackend:
    """Scalar evaluation with :mod:`math` (constants, faces, exponent checks)."""

    sin, cos, tan, exp, log, sqrt, tanh = math.sin, math.cos, math.tan, math.exp, math.log, math.sqrt, math.tanh
    abs = staticmethod(abs)

    @staticmethod
    def sign(value: float) -> float:
        return float((value > 0) - (value < 0))


def backend_for(lib: Any) -> Any:
    """The numeric functions of ``numpy`` or ``torch`` under the whitelisted names."""
    return _LibraryBackend(lib)


class _LibraryBackend:
    def __init__(self, lib: Any) -> None:
        self.lib = lib
        for name in FUNCTIONS:
            setattr(self, name, getattr(lib, name))


def evaluate(
    node: Node,
    backend: Any,
    variables: Mapping[str, Any],
    parameters: Mapping[str, float],
    field_value: Callable[[Field], Any] | None,
) -> Any:
    """Evaluate a tree: ``variables`` maps names to columns, ``field_value`` returns u or a derivative."""

    def run(item: Node) -> Any:
        if isinstance(item, Num):
            return item.value
        if isinstance(item, Var):
            return variables[item.name]
        if isinstance(item, Param):
            return parameters[item.name]
        if isinstance(item, Field):
            if field_value is None:
                raise SpecError("the unknown is not available in this expression")
            return field_value(item)
        if isinstance(item, Neg):
            return -run(item.operand)
        if isinstance(item, Call):
            return getattr(backend, item.function)(run(item.argument))
        left, right = run(item.left), run(item.right)
        if item.op == "+":
            return left + right
        if item.op == "-":
            return left - right
        if item.op == "*":
            return left * right
        if item.op == "/":
            return left / right
        return left**right

    return run(node)


def to_text(node: Node, variables: tuple[str, ...], unknown: str) -> str:
    """Canonical text of a tree (used in descriptions and for fingerprints)."""
    if isinstance(node, Num):
        return repr(node.value) if node.value != int(node.value) or abs(node.value) > 1e15 else str(int(node.value))
    if isinstance(node, (Var, Param)):
        return node.name
    if isinstance(node, Field):
        if not node.order:
            return unknown
        names = [v for v, c in zip(variables, node.counts) for _ in range(c)]
        joiner = "" if all(len(v) == 1 for v in variables) else "_"
        return unknown + "_" + joiner.join(names)
    if isinstance(node, Neg):
        return f"-({to_text(node.operand, variables, unknown)})"
    if isinstance(node, Call):
        return f"{node.function}({to_text(node.argument, variables, unknown)})"
    return f"({to_text(node.left, variables, unknown)} {node.op} {to_text(node.right, variables, unknown)})"

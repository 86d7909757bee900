"""Skip children whose code is identical or near-identical to a node already evaluated.

Two levels, both on the syntax tree so that meaningful edits always count:

* identical: the AST fingerprint matches (comments, docstrings and formatting do not count);
* near-identical: the same program up to a consistent renaming of its own names: variables, function
  arguments and the functions and classes it defines (``lr``→``learning_rate`` everywhere is not a new
  method).

Only names the program binds itself are renamable. What a name refers to outside the program is part of
the structure: builtins (``max``→``min``), imported names (``from math import sin``→``cos``), attributes
(``torch.sin``→``torch.cos``, ``np.max``→``np.min``), keyword arguments, methods and class attributes
(``forward``, ``__init__``: looked up by name). An import alias is replaced by what it imports, so
``import numpy as np`` and ``import numpy as xp`` are the same program. A name that is both imported and
bound otherwise, or bound in a class body, is kept as written (the check errs towards training a
candidate, never towards skipping a new one).

Any change of a literal or of the structure (a learning rate, a layer, a loss term) makes a new candidate:
a character-similarity threshold would wrongly discard exactly the small hyperparameter edits that often
matter most.
"""

from __future__ import annotations

import ast
import hashlib
from typing import Callable, Iterable

from app.db.fingerprint import code_fingerprint

_ENTRY_POINT = "solve"  # the contract's entry point keeps its name


def _imported_as(alias: ast.alias, node: ast.Import | ast.ImportFrom) -> tuple[str, str] | None:
    """``(bound name, what it refers to)`` for one imported name; ``None`` for ``from m import *``."""
    if isinstance(node, ast.Import):
        if alias.asname:
            return alias.asname, alias.name
        head = alias.name.split(".")[0]  # ``import a.b`` binds ``a``
        return head, head
    if alias.name == "*":
        return None
    module = "." * (node.level or 0) + (node.module or "")
    return alias.asname or alias.name, f"{module}.{alias.name}" if module else alias.name


class _Bindings(ast.NodeVisitor):
    """Which names the program binds itself (renamable) and which it imports (resolved, not renamed)."""

    def __init__(self) -> None:
        self.imported: dict[str, set[str]] = {}
        self.local: set[str] = set()
        self.fixed: set[str] = set()  # bound in a class body: attributes of the class, looked up by name

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            bound = _imported_as(alias, node)
            if bound is not None:
                self.imported.setdefault(bound[0], set()).add(bound[1])

    visit_Import = visit_ImportFrom = _import  # type: ignore[assignment]

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self.local.add(node.id)

    def visit_arg(self, node: ast.arg) -> None:
        self.local.add(node.arg)
        self.generic_visit(node)

    def _definition(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.local.add(node.name)
        self.generic_visit(node)

    visit_FunctionDef = visit_AsyncFunctionDef = _definition  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._definition(node)
        for statement in node.body:  # methods and class attributes, not nested scopes
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.fixed.add(statement.name)
            elif isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                for target in targets:
                    for sub in ast.walk(target):
                        if isinstance(sub, ast.Name):
                            self.fixed.add(sub.id)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.local.add(node.name)
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            self.local.add(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.local.add(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            self.local.add(node.rest)
        self.generic_visit(node)

    def renamable(self) -> set[str]:
        names = self.local - set(self.imported) - self.fixed - {_ENTRY_POINT}
        return {n for n in names if not (n.startswith("__") and n.endswith("__"))}

    def resolved(self) -> dict[str, str]:
        """Imported names bound nowhere else, each to the one thing it imports."""
        return {name: "import:" + next(iter(targets)) for name, targets in self.imported.items()
                if len(targets) == 1 and name not in self.local and name not in self.fixed}


class _Canonicalise(ast.NodeTransformer):
    """Rename the program's own names to ``v0, v1, ...`` in order of first appearance; resolve imports."""

    def __init__(self, bindings: _Bindings) -> None:
        self.renamable = bindings.renamable()
        self.resolved = bindings.resolved()
        self.names: dict[str, str] = {}

    def _canon(self, name: str) -> str:
        if name in self.resolved:
            return self.resolved[name]
        if name not in self.renamable:
            return name
        if name not in self.names:
            self.names[name] = f"v{len(self.names)}"
        return self.names[name]

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self._canon(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = self._canon(node.arg)
        node.annotation = None
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.name = self._canon(node.name)
        node.returns = None
        self.generic_visit(node)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.name = self._canon(node.name)
        self.generic_visit(node)
        return node

    def visit_alias(self, node: ast.alias) -> ast.AST:
        if node.asname and node.asname in self.resolved:
            node.asname = None  # the alias is a name of the program's choosing; what it imports is not
        return node

    def visit_Global(self, node: ast.Global) -> ast.AST:
        node.names = [self._canon(name) for name in node.names]
        return node

    visit_Nonlocal = visit_Global  # type: ignore[assignment]

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.AST:
        if node.name:
            node.name = self._canon(node.name)
        return self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs) -> ast.AST:
        if node.name:
            node.name = self._canon(node.name)
        return self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> ast.AST:
        if node.name:
            node.name = self._canon(node.name)
        return node

    def visit_MatchMapping(self, node: ast.MatchMapping) -> ast.AST:
        if node.rest:
            node.rest = self._canon(node.rest)
        return self.generic_visit(node)

    def visit_Expr(self, node: ast.Expr) -> ast.AST | None:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return None  # docstrings and bare strings
        return self.generic_visit(node)


def structure_fingerprint(code: str) -> str | None:
    """Hash of the program modulo formatting, comments, docstrings and consistent renaming."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    bindings = _Bindings()
    bindings.visit(tree)
    canonical = _Canonicalise(bindings).visit(tree)
    return hashlib.sha256(ast.dump(canonical, annotate_fields=False).encode()).hexdigest()


def find_duplicate(code: str, evaluated: Iterable[tuple[int, str]]) -> tuple[int, str] | None:
    """``(node_id, "identical" | "near-identical ...")`` for the first of ``(node_id, code)`` that ``code``
    duplicates: a one-off :class:`NoveltyIndex` check."""
    codes = dict(evaluated)
    others = [(node_id, code_fingerprint(other)) for node_id, other in codes.items()]
    return NoveltyIndex().find(code, others, lambda ids: {node_id: codes[node_id] for node_id in ids})


class NoveltyIndex:
    """The novelty check for a campaign that grows node by node, without re-reading the whole tree.

    Identical code is found from the fingerprints the database already holds (``nodes.code_hash``). The
    structure fingerprint of each node is computed once, when a check first needs it, and kept under
    ``(node_id, code_hash)`` so a node whose code the debugger changed is fingerprinted again. Only the
    code of nodes not seen yet is loaded.
    """

    def __init__(self) -> None:
        self._structure: dict[tuple[int, str | None], str | None] = {}

    def find(self, code: str, others: list[tuple[int, str | None]],
             load_code: Callable[[list[int]], dict[int, str]]) -> tuple[int, str] | None:
        """``others``: ``(node_id, code_hash)`` of the evaluated nodes in creation order."""
        fingerprint = code_fingerprint(code)
        unknown = [(node_id, digest) for node_id, digest in others
                   if digest is None or (node_id, digest) not in self._structure]
        codes = load_code([node_id for node_id, _ in unknown]) if unknown else {}
        for node_id, digest in unknown:
            self._structure[(node_id, digest)] = structure_fingerprint(codes.get(node_id, ""))
        structure = structure_fingerprint(code)
        for node_id, digest in others:
            if (digest or code_fingerprint(codes.get(node_id, ""))) == fingerprint:
                return node_id, "identical"
            if structure is not None and self._structure[(node_id, digest)] == structure:
                return node_id, "near-identical (only names differ)"
        return None

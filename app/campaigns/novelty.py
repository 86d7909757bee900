"""Skip children whose code is identical or near-identical to a node already evaluated.

Two levels, both on the syntax tree so that meaningful edits always count:

* identical: the AST fingerprint matches (comments, docstrings and formatting do not count);
* near-identical: the same program up to a consistent renaming of variables, functions, arguments and
  attributes (``lr``→``learning_rate`` everywhere is not a new method).

Any change of a literal or of the structure (a learning rate, a layer, a loss term) makes a new candidate:
a character-similarity threshold would wrongly discard exactly the small hyperparameter edits that often
matter most.
"""

from __future__ import annotations

import ast
import hashlib
from typing import Callable, Iterable

from app.db.fingerprint import code_fingerprint


class _Canonicalise(ast.NodeTransformer):
    """Rename every user-chosen identifier to ``v0, v1, ...`` in order of first appearance."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def _canon(self, name: str) -> str:
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
        if node.name != "solve":  # the contract's entry point keeps its name
            node.name = self._canon(node.name)
        node.returns = None
        self.generic_visit(node)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.name = self._canon(node.name)
        self.generic_visit(node)
        return node

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
    canonical = _Canonicalise().visit(tree)
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

"""Fingerprints of candidate code for the novelty check.

Two candidates that differ only in comments, docstrings, blank lines or formatting behave identically,
so evaluating both wastes a sandbox run. Hashing the AST (with docstrings removed) instead of the raw
text catches those cases while still telling apart any change the interpreter would see. Code that
does not parse falls back to a whitespace-normalised text hash, so it still gets a stable fingerprint.
"""

from __future__ import annotations

import ast
import hashlib

_DOCSTRING_OWNERS = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _strip_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if not isinstance(node, _DOCSTRING_OWNERS):
            continue
        body = node.body
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            # Keep the body non-empty so the dump stays a valid shape.
            node.body = body[1:] or [ast.Pass()]


def code_fingerprint(code: str) -> str:
    """sha256 hex of the code's docstring-free AST, or of its whitespace-normalised text if unparsable."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        lines = code.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        canonical = "text:" + "\n".join(line.rstrip() for line in lines).strip()
    else:
        _strip_docstrings(tree)
        canonical = "ast:" + ast.dump(tree, annotate_fields=False, include_attributes=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

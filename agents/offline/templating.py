"""A tiny line-based preprocessor for the candidate templates.

The templates are ordinary Python files with optional sections::

    #? rad            kept only when flag "rad" is on
    ...
    #? !rad           kept only when it is off
    ...
    #?                closes the innermost section

Sections nest. Keeping the whole candidate as one readable template (instead of gluing strings together) is
what makes the rendered code look like a person wrote it: unused machinery simply disappears.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_MARK = re.compile(r"^\s*#\?\s*(!?)([A-Za-z_][A-Za-z0-9_]*)?\s*$")


class TemplateError(ValueError):
    pass


def preprocess(template: str, flags: Mapping[str, bool]) -> str:
    """Keep the sections whose flag holds, drop the markers, and collapse runs of blank lines to two."""
    keep_stack: list[bool] = []
    out: list[str] = []
    for number, line in enumerate(template.splitlines(), start=1):
        match = _MARK.match(line)
        if match:
            negate, name = match.groups()
            if name is None:
                if not keep_stack:
                    raise TemplateError(f"line {number}: closing marker without an open section")
                keep_stack.pop()
            else:
                if name not in flags:
                    raise TemplateError(f"line {number}: unknown flag {name!r}")
                value = bool(flags[name]) != bool(negate)
                keep_stack.append(value)
            continue
        if all(keep_stack):
            out.append(line)
    if keep_stack:
        raise TemplateError("unclosed section at the end of the template")
    return _tidy("\n".join(out)) + "\n"


def _tidy(text: str) -> str:
    """At most two consecutive blank lines (PEP 8 between top-level definitions), none at the end."""
    text = re.sub(r"\n{4,}", "\n\n\n", text)
    return text.rstrip()

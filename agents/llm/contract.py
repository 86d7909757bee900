"""A static check of the candidate contract, run on model-written code before anything executes.

This is a pre-flight check, not a security boundary (the sandbox is: namespaces, seccomp, rlimits). Its job
is to catch the common mistakes early and cheaply — code that does not parse, a missing ``solve(task)``, a
library the sandbox does not have, an attempt to start processes — and to explain them to the engineer in
one sentence, instead of spending a sandbox run (and a debugger round) on them. Code that hides what it
does (``getattr(os, "sys" + "tem")``) can pass this check; the sandbox then stops it.
"""

from __future__ import annotations

import ast

from pydantic import BaseModel, ConfigDict, Field

#: Modules a candidate may import (top-level package names). The sandbox image provides exactly these
#: third-party packages; the standard-library ones are side-effect free for a solver.
DEFAULT_ALLOWED_MODULES: frozenset[str] = frozenset({
    "__future__", "abc", "bisect", "cmath", "collections", "contextlib", "copy", "dataclasses", "decimal",
    "enum", "fractions", "functools", "heapq", "itertools", "json", "logging", "math", "numbers", "operator",
    "os", "pathlib", "random", "re", "statistics", "string", "textwrap", "time", "types", "typing",
    "warnings",
    "numpy", "scipy", "torch",
})

#: Modules named explicitly, with the reason, because they are the usual ways out of the sandbox.
FORBIDDEN_MODULES: dict[str, str] = {
    "subprocess": "candidates may not start processes",
    "multiprocessing": "candidates may not start processes",
    "socket": "candidates have no network",
    "ssl": "candidates have no network",
    "http": "candidates have no network",
    "urllib": "candidates have no network",
    "requests": "candidates have no network",
    "ctypes": "candidates may not call native code directly",
    "importlib": "candidates may not import modules dynamically",
    "shutil": "candidates may not manipulate files outside their scratch directory",
    "pickle": "candidates may not unpickle data",
    "sys": "candidates may not change the interpreter",
}

#: ``os`` is allowed for paths and environment reads; these attributes start processes or signal them.
FORBIDDEN_OS_ATTRIBUTES: frozenset[str] = frozenset({
    "system", "popen", "fork", "forkpty", "kill", "killpg", "posix_spawn", "posix_spawnp", "startfile",
    "execl", "execle", "execlp", "execlpe", "execv", "execve", "execvp", "execvpe",
    "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp", "spawnvpe",
})

#: Builtins that run text as code or import by name.
FORBIDDEN_BUILTINS: dict[str, str] = {
    "eval": "runs text as code",
    "exec": "runs text as code",
    "compile": "compiles text into code",
    "__import__": "imports modules dynamically",
    "breakpoint": "would wait for a debugger",
    "input": "would wait for input that never comes",
}


class ContractPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    allowed_modules: frozenset[str] = DEFAULT_ALLOWED_MODULES
    max_chars: int = Field(default=200_000, gt=0)

    def describe(self) -> str:
        """The contract in the words the engineer-type roles are given."""
        third = sorted(m for m in self.allowed_modules if m in ("numpy", "scipy", "torch"))
        std = sorted(m for m in self.allowed_modules if m not in third and m != "__future__")
        return (
            "The candidate contract:\n"
            "- The answer is ONE Python module with a top-level function `def solve(task):` that trains "
            "whatever it needs and returns predictions of shape `task.output_shape` at "
            "`task.query_inputs`.\n"
            "- `task` provides: name, kind, description, train (arrays by name), query_inputs, "
            "output_shape, pde (PINN problems: residual(inputs, u), bounds, samplers, exact constraints), "
            "budget (wall_seconds, memory_mb, device, cpu_threads, max_steps), seed, device, scratch_dir (the "
            "only writable place), metric, log(step, **metrics), time_left(margin), tick(), spent(), "
            "left(margin), seed_everything().\n"
            "- Stop training before the budget ends. Call `task.tick()` once per optimiser step and plan "
            "loops with `task.left(margin)` (steps left when `task.budget.max_steps` is set, else seconds "
            "left): under a step budget train exactly that many steps, so the score does not depend on the "
            "machine's speed; `wall_seconds` stays a hard cap.\n"
            f"- Imports allowed: {', '.join(third)} and the standard-library modules {', '.join(std)}. "
            "Nothing else is installed.\n"
            "- No processes (subprocess, os.system), no network (socket), no eval/exec, no files outside "
            "task.scratch_dir. The hidden targets are not available and must not be sought."
        )


class ContractViolation(ValueError):
    """The code breaks the contract; ``reasons`` lists every problem found, in source order."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__("; ".join(reasons))


def _root(name: str) -> str:
    return name.split(".")[0]


def contract_problems(code: str, policy: ContractPolicy | None = None) -> list[str]:
    """Everything wrong with ``code`` as a candidate; empty when it may be run."""
    policy = policy or ContractPolicy()
    if not code.strip():
        return ["the module is empty"]
    if len(code) > policy.max_chars:
        return [f"the module is {len(code)} characters long; the limit is {policy.max_chars}"]
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" if exc.lineno else "somewhere"
        text = (exc.text or "").strip()
        return [f"the code does not parse: {exc.msg} at {where}" + (f": {text!r}" if text else "")]
    except ValueError as exc:  # e.g. null bytes
        return [f"the code does not parse: {exc}"]

    problems: list[str] = []
    solve = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == "solve"]
    if not solve:
        problems.append("there is no top-level `def solve(task):`")
    else:
        fn = solve[-1]
        args = fn.args
        positional = args.posonlyargs + args.args
        required = len(positional) - len(args.defaults)
        if isinstance(fn, ast.AsyncFunctionDef):
            problems.append("`solve` must be a plain function, not `async def`")
        elif not positional and args.vararg is None:
            problems.append("`solve` must accept the task as its one positional argument")
        elif required > 1 or any(d is None for d in args.kw_defaults):
            problems.append("`solve` must be callable as `solve(task)`: its other parameters need defaults")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                problems.extend(_module_problem(alias.name, node.lineno, policy))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                problems.append(f"line {node.lineno}: relative imports are not allowed (the module runs alone)")
                continue
            module = node.module or ""
            problems.extend(_module_problem(module, node.lineno, policy))
            if _root(module) == "os":
                for alias in node.names:
                    if alias.name in FORBIDDEN_OS_ATTRIBUTES:
                        problems.append(f"line {node.lineno}: os.{alias.name} is forbidden: candidates may not "
                                        "start or signal processes")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os" \
                and node.attr in FORBIDDEN_OS_ATTRIBUTES:
            problems.append(f"line {node.lineno}: os.{node.attr} is forbidden: candidates may not start or "
                            "signal processes")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_BUILTINS:
            problems.append(f"line {node.lineno}: {node.func.id}() is forbidden: it "
                            f"{FORBIDDEN_BUILTINS[node.func.id]}")
    return list(dict.fromkeys(problems))


def _module_problem(name: str, lineno: int, policy: ContractPolicy) -> list[str]:
    root = _root(name)
    if root in policy.allowed_modules:
        return []
    if root in FORBIDDEN_MODULES:
        return [f"line {lineno}: import of {name!r} is forbidden: {FORBIDDEN_MODULES[root]}"]
    allowed = ", ".join(sorted(m for m in policy.allowed_modules if m != "__future__"))
    return [f"line {lineno}: import of {name!r} is not allowed; allowed modules: {allowed}"]


def check_candidate(code: str, policy: ContractPolicy | None = None) -> None:
    """Raises :class:`ContractViolation` listing every problem, or returns when the code may run."""
    problems = contract_problems(code, policy)
    if problems:
        raise ContractViolation(problems)

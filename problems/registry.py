"""Finding problems by name (built-ins) or by path (user-defined problems)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from problems.base import Problem, ProblemSpec
from problems.builtin.allen_cahn1d import AllenCahn1DProblem
from problems.builtin.antiderivative import AntiderivativeProblem
from problems.builtin.burgers1d import Burgers1DProblem
from problems.builtin.convection1d import Convection1DProblem
from problems.builtin.discontinuous_fit1d import DiscontinuousFit1DProblem
from problems.builtin.helmholtz2d import Helmholtz2DProblem
from problems.errors import ProblemNotFound, ProblemValidationError
from problems.user import UserProblemLimits, load_user_problem

BUILTINS: dict[str, Callable[[], Problem]] = {
    "convection1d": Convection1DProblem,
    "burgers1d": Burgers1DProblem,
    "helmholtz2d": Helmholtz2DProblem,
    "allen_cahn1d": AllenCahn1DProblem,
    "discontinuous_fit1d": DiscontinuousFit1DProblem,
    "antiderivative": AntiderivativeProblem,
}


def builtin_names() -> list[str]:
    return list(BUILTINS)


def list_problems() -> list[ProblemSpec]:
    """Specs of the built-in problems (constructing them is cheap: no reference solution is computed)."""
    return [factory().spec for factory in BUILTINS.values()]


def get_problem(name_or_path: str | Path, limits: UserProblemLimits | None = None) -> Problem:
    """A built-in problem by name, or a user problem from a directory / ``problem.yaml`` path.

    Raises :class:`ProblemNotFound` for an unknown name (the message lists the built-ins) and
    :class:`ProblemValidationError` for a malformed user problem or one that reuses a built-in's name
    (results are stored by problem name, so a clash would mix up scores).
    """
    key = str(name_or_path)
    if key in BUILTINS:
        return BUILTINS[key]()
    path = Path(key).expanduser()
    if path.exists():
        problem = load_user_problem(path, limits)
        if problem.name in BUILTINS:
            raise ProblemValidationError(
                f"{path}: name {problem.name!r} is reserved by a built-in problem; choose another"
            )
        return problem
    raise ProblemNotFound(
        f"unknown problem {key!r}: not a built-in ({', '.join(BUILTINS)}) and no such file or directory"
    )

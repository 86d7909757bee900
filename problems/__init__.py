"""Problems: public specs, data generation with exact references, and user-defined problems.

This package is trusted: it holds the reference solvers and produces the hidden targets, and is never
mounted into the sandbox. Candidates see only the spec's description, the training arrays, the query
inputs and (for PINN problems) the PDE object from ``sandbox/runtime/pde.py``.
"""

from problems.base import (
    GeneratedProblem,
    Problem,
    ProblemBudget,
    ProblemData,
    ProblemSpec,
    default_cache_dir,
)
from problems.errors import ProblemNotFound, ProblemValidationError
from problems.registry import builtin_names, get_problem, list_problems
from problems.user import UserProblemLimits, load_user_problem, validate_arrays

__all__ = [
    "GeneratedProblem",
    "Problem",
    "ProblemBudget",
    "ProblemData",
    "ProblemNotFound",
    "ProblemSpec",
    "ProblemValidationError",
    "UserProblemLimits",
    "builtin_names",
    "default_cache_dir",
    "get_problem",
    "list_problems",
    "load_user_problem",
    "validate_arrays",
]

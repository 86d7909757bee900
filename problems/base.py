"""What a problem is: its public spec, its data, and the deterministic, cached way to produce them.

A problem has a :class:`ProblemSpec` (everything that may be shown to agents and candidates: name, kind,
markdown description, metric, budget, PDE, literature figures) and a :meth:`Problem.load` that returns the
:class:`ProblemData` (training arrays and query inputs, which candidates see, and the targets, which only the
trusted scorer sees).

Built-in problems generate their data from fixed seeds with reference solvers; :class:`GeneratedProblem`
caches the arrays as ``.npz`` keyed by a hash of the generator version and parameters, so the first load
pays for the reference solution and later loads only read a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

ProblemKind = Literal["pinn", "operator", "regression"]
MetricName = Literal["rel_l2", "mse"]

MAX_WALL_SECONDS = 24 * 3600.0
CACHE_ENV = "AGENTIC_SCIML_PROBLEM_CACHE"


class ProblemBudget(BaseModel):
    """Resources granted to one evaluation of a candidate (the fields of the sandbox's ``Budget``)."""

    model_config = ConfigDict(extra="forbid")

    wall_seconds: float = Field(60.0, gt=0, le=MAX_WALL_SECONDS)
    memory_mb: int = Field(4096, ge=64, le=1_048_576)
    device: str = Field("cpu", pattern=r"^(cpu|auto|cuda(:\d+)?)$")
    cpu_threads: int = Field(1, ge=1, le=256)
    # A step budget: candidates train this many optimiser steps, so scores do not move with the machine's
    # load; wall_seconds is then only the cap that stops a candidate ignoring it.
    max_steps: int | None = Field(None, ge=1, le=100_000_000)


class ProblemSpec(BaseModel):
    """The public description of a problem; safe to show to agents and to put in the task bundle."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
    kind: ProblemKind
    description: str = Field(min_length=1)
    metric: MetricName = "rel_l2"
    budget: ProblemBudget = Field(default_factory=ProblemBudget)
    pde: dict[str, Any] | None = None
    literature: dict[str, str] = Field(default_factory=dict)

    @field_validator("pde")
    @classmethod
    def _pde_is_buildable(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        from sandbox.runtime.pde import build_pde

        try:
            return build_pde(value).to_spec()  # normalises params (defaults filled, floats)
        except TypeError as exc:  # pydantic reports ValueErrors only
            raise ValueError(str(exc)) from None


@dataclass
class ProblemData:
    """Arrays of one problem instance.

    ``train`` and ``query_inputs`` go to the candidate; ``targets`` (the reference values at the query
    inputs) stay with the trusted scorer. Shapes follow the ``Task`` contract: PINN and regression targets
    are ``(M,)``, one per row of ``query_inputs["x"]``; operator targets are ``(N_test, P)``.
    """

    train: dict[str, np.ndarray]
    query_inputs: dict[str, np.ndarray]
    targets: np.ndarray

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Shape a candidate's predictions must have."""
        return tuple(int(n) for n in self.targets.shape)

    def to_npz_dict(self) -> dict[str, np.ndarray]:
        """Flat mapping (``train_*``, ``query_*``, ``targets``), the layout of user ``data.npz`` files too."""
        flat = {f"train_{k}": v for k, v in self.train.items()}
        flat.update({f"query_{k}": v for k, v in self.query_inputs.items()})
        flat["targets"] = self.targets
        return flat

    @classmethod
    def from_npz_dict(cls, flat: dict[str, np.ndarray]) -> ProblemData:
        train = {k[len("train_") :]: v for k, v in flat.items() if k.startswith("train_")}
        query = {k[len("query_") :]: v for k, v in flat.items() if k.startswith("query_")}
        return cls(train=train, query_inputs=query, targets=flat["targets"])


def default_cache_dir() -> Path:
    """``$AGENTIC_SCIML_PROBLEM_CACHE`` or ``~/.cache/agentic-sciml/problems``."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    return Path.home() / ".cache" / "agentic-sciml" / "problems"


class Problem(ABC):
    """A problem: a public :attr:`spec` and a deterministic :meth:`load`."""

    spec: ProblemSpec

    @property
    def name(self) -> str:
        return self.spec.name

    @abstractmethod
    def load(self, cache_dir: Path | None = None) -> ProblemData:
        """Return the problem's arrays; the same arrays on every call and every machine."""

    @abstractmethod
    def fingerprint(self) -> str:
        """A short hash identifying the data; scores are comparable only between equal fingerprints."""

    def build_pde(self) -> Any:
        """The :class:`~sandbox.runtime.pde.PDE` of a PINN problem, else ``None``."""
        if self.spec.pde is None:
            return None
        from sandbox.runtime.pde import build_pde

        return build_pde(self.spec.pde)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec.name!r}, kind={self.spec.kind!r})"


class GeneratedProblem(Problem):
    """A built-in problem whose data come from :meth:`generate` (fixed seeds), cached on disk.

    Subclasses set :attr:`version` (bump it whenever :meth:`generate` would produce different arrays) and
    :attr:`params` (everything the generator depends on: sizes, seeds, physical parameters), build
    :attr:`spec`, and implement :meth:`generate`.
    """

    version: ClassVar[str] = "1"
    params: ClassVar[dict[str, Any]] = {}

    @abstractmethod
    def generate(self) -> ProblemData:
        """Compute the arrays from scratch (deterministically)."""

    def fingerprint(self) -> str:
        payload = json.dumps(
            {"problem": self.spec.name, "version": self.version, "params": self.params},
            sort_keys=True,
            default=repr,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def cache_path(self, cache_dir: Path | None = None) -> Path:
        directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        return directory / f"{self.spec.name}-{self.fingerprint()}.npz"

    def load(self, cache_dir: Path | None = None) -> ProblemData:
        """Read the cached arrays, or generate and cache them (atomically: concurrent loaders are safe).

        ``cache_dir=None`` uses :func:`default_cache_dir`. An unreadable cache file is regenerated.
        """
        path = self.cache_path(cache_dir)
        if path.exists():
            try:
                with np.load(path, allow_pickle=False) as archive:
                    return ProblemData.from_npz_dict({k: archive[k] for k in archive.files})
            except (OSError, ValueError, KeyError, zipfile.BadZipFile):
                pass  # corrupt or truncated: fall through and rebuild it
        data = self.generate()
        _write_atomically(path, data.to_npz_dict())
        return data


def _write_atomically(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` via a temporary file and a rename; readers never see a partial file.

    A read-only or full cache directory is not an error: the data are simply regenerated next time.
    """
    temporary: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz.tmp", delete=False) as handle:
            temporary = handle.name
            np.savez(handle, **arrays)
        os.replace(temporary, path)
    except OSError:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)

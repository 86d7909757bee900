"""User-defined problems: a directory with ``problem.yaml`` (or ``.yml``/``.json``), a description and ``data.npz``.

Layout::

    my_problem/
        problem.yaml      name, kind, metric, budget (optional), pde (PINN only: the symbolic spec of
                          ``sandbox/runtime/pde.py``), literature (optional),
                          description (optional if description.md exists), data (optional, default data.npz)
        description.md    the markdown shown to agents and candidates (or ``description:`` inline)
        data.npz          train_<name> arrays (given to candidates), query_<name> arrays (the inputs to
                          predict at) and ``targets`` (hidden, used only by the scorer)

Arrays per kind (the :class:`~sandbox.runtime.task.Task` contract):

* ``regression``: ``train_x`` (n, d), ``train_y`` (n,) or (n, 1); ``query_x`` (M, d); ``targets`` (M,) or (M, 1).
* ``pinn``: ``query_x`` (M, d) with d the PDE's dimension and ``targets`` (M,); every ``train_*`` array is
  optional, since candidates sample points from the PDE spec: ``train_x_interior`` (n, d), the pairs
  ``train_x_boundary`` / ``train_u_boundary`` and ``train_x_initial`` / ``train_u_initial``, and observations
  ``train_x_observed`` / ``train_u_observed`` that a candidate may fit as data. Every point must lie in the
  domain (outside the excluded boxes).
* ``operator``: ``train_u`` (N, m), ``train_y`` (P, k), ``train_s`` (N, P), optional ``train_sensors``;
  ``query_u`` (N_test, m), ``query_y`` (P_test, k); ``targets`` (N_test, P_test).

Everything is validated before anything is used; every failure is a :class:`ProblemValidationError` whose
message names the file and the field or array at fault. The data file is inspected (array headers, sizes)
before any array is read, so a huge or compressed-bomb file is rejected cheaply, and it is read with
``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from problems.base import MetricName, Problem, ProblemBudget, ProblemData, ProblemKind, ProblemSpec
from problems.errors import ProblemValidationError

CONFIG_NAMES = ("problem.yaml", "problem.yml", "problem.json")
DESCRIPTION_NAME = "description.md"
ARRAY_NAME = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"


class UserProblemLimits(BaseModel):
    """Size limits for user problems (defaults suit a CPU service; raise them for bigger deployments)."""

    max_total_bytes: int = Field(200 * 1024 * 1024, gt=0)  # uncompressed, all arrays together
    max_array_elements: int = Field(50_000_000, gt=0)
    max_config_bytes: int = Field(1024 * 1024, gt=0)
    max_description_chars: int = Field(200_000, gt=0)


class UserProblemConfig(BaseModel):
    """The schema of ``problem.yaml``; unknown fields are rejected (they are usually typos)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
    kind: ProblemKind
    metric: MetricName = "rel_l2"
    budget: ProblemBudget = Field(default_factory=ProblemBudget)
    pde: dict[str, Any] | None = None
    description: str | None = None
    literature: dict[str, str] = Field(default_factory=dict)
    data: str = Field("data.npz", pattern=r"^[A-Za-z0-9_.\-]+\.npz$")


class UserProblem(Problem):
    """A validated user problem; its arrays are held in memory (they passed the size limits)."""

    def __init__(self, spec: ProblemSpec, data: ProblemData, fingerprint: str, source: Path) -> None:
        self.spec = spec
        self._data = data
        self._fingerprint = fingerprint
        self.source = source

    def load(self, cache_dir: Path | None = None) -> ProblemData:
        """The validated arrays (``cache_dir`` is ignored: nothing needs generating)."""
        return ProblemData(
            train={k: v.copy() for k, v in self._data.train.items()},
            query_inputs={k: v.copy() for k, v in self._data.query_inputs.items()},
            targets=self._data.targets.copy(),
        )

    def fingerprint(self) -> str:
        return self._fingerprint


# ------------------------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------------------------
def load_user_problem(path: str | Path, limits: UserProblemLimits | None = None) -> UserProblem:
    """Load and validate the problem in directory ``path`` (or the config file ``path`` itself)."""
    limits = limits or UserProblemLimits()
    directory, config_path = _locate_config(Path(path).expanduser())
    config = _read_config(config_path, limits)
    description = _read_description(directory, config, config_path, limits)

    pde = None
    if config.kind == "pinn":
        if config.pde is None:
            raise ProblemValidationError(f"{config_path.name}: field 'pde' is required for kind 'pinn'")
        pde = _build_pde(config.pde, config_path)
    elif config.pde is not None:
        raise ProblemValidationError(
            f"{config_path.name}: field 'pde' is only allowed for kind 'pinn', not {config.kind!r}"
        )

    data_path = directory / config.data
    arrays = read_npz_checked(data_path, limits)
    data = validate_arrays(config.kind, arrays, pde=pde, source=data_path.name)

    spec = ProblemSpec(
        name=config.name,
        kind=config.kind,
        description=description,
        metric=config.metric,
        budget=config.budget,
        pde=None if pde is None else pde.to_spec(),
        literature=config.literature,
    )
    digest = hashlib.sha256()
    digest.update(config_path.read_bytes())
    digest.update(description.encode())
    with data_path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return UserProblem(spec, data, digest.hexdigest()[:16], directory)


def _locate_config(path: Path) -> tuple[Path, Path]:
    if path.is_file():
        if path.name not in CONFIG_NAMES:
            raise ProblemValidationError(f"{path}: a problem file must be named one of {list(CONFIG_NAMES)}")
        return path.parent, path
    if not path.is_dir():
        raise ProblemValidationError(f"{path}: no such problem directory or file")
    found = [path / name for name in CONFIG_NAMES if (path / name).is_file()]
    if not found:
        raise ProblemValidationError(f"{path}: missing problem file (one of {list(CONFIG_NAMES)})")
    if len(found) > 1:
        raise ProblemValidationError(f"{path}: several problem files {[p.name for p in found]}; keep one")
    return path, found[0]


def _read_config(config_path: Path, limits: UserProblemLimits) -> UserProblemConfig:
    name = config_path.name
    if config_path.stat().st_size > limits.max_config_bytes:
        raise ProblemValidationError(f"{name}: file larger than {limits.max_config_bytes} bytes")
    try:
        text = config_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ProblemValidationError(f"{name}: not UTF-8 text ({exc})") from None
    try:
        raw = json.loads(text) if config_path.suffix == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        kind = "JSON" if config_path.suffix == ".json" else "YAML"
        raise ProblemValidationError(f"{name}: invalid {kind}: {exc}") from None
    if not isinstance(raw, dict):
        raise ProblemValidationError(f"{name}: expected a mapping of fields, got {type(raw).__name__}")
    try:
        return UserProblemConfig.model_validate(raw)
    except ValidationError as exc:
        raise ProblemValidationError(f"{name}: {_format_validation_error(exc)}") from None


def _format_validation_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        location = ".".join(str(item) for item in error["loc"]) or "(root)"
        parts.append(f"field '{location}': {error['msg']}")
    return "; ".join(parts)


def _read_description(
    directory: Path, config: UserProblemConfig, config_path: Path, limits: UserProblemLimits
) -> str:
    file = directory / DESCRIPTION_NAME
    inline = config.description
    if inline is not None and file.is_file():
        raise ProblemValidationError(
            f"{config_path.name}: field 'description' given inline and in {DESCRIPTION_NAME}; keep one"
        )
    if inline is not None:
        text, source = inline, f"{config_path.name}: field 'description'"
    elif file.is_file():
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ProblemValidationError(f"{DESCRIPTION_NAME}: not UTF-8 text ({exc})") from None
        source = DESCRIPTION_NAME
    else:
        raise ProblemValidationError(
            f"{directory}: missing description ({DESCRIPTION_NAME} or field 'description' in {config_path.name})"
        )
    if not text.strip():
        raise ProblemValidationError(f"{source}: description is empty")
    if len(text) > limits.max_description_chars:
        raise ProblemValidationError(
            f"{source}: description longer than {limits.max_description_chars} characters"
        )
    return text


def _build_pde(spec: dict[str, Any], config_path: Path) -> Any:
    from sandbox.runtime.pde import build_pde

    try:
        return build_pde(spec)
    except (ValueError, TypeError, RecursionError) as exc:
        where, _, message = str(exc).partition(": ")
        if not message or " " in where:  # not of the form "pde.<path>: message"
            where, message = "pde", str(exc)
        raise ProblemValidationError(f"{config_path.name}: field '{where}': {message}") from None


# ------------------------------------------------------------------------------------------------------------
# Arrays
# ------------------------------------------------------------------------------------------------------------
def read_npz_checked(path: Path, limits: UserProblemLimits | None = None) -> dict[str, np.ndarray]:
    """Read an ``.npz`` after checking every member's header against the limits; numeric arrays only.

    Returns float64 arrays. Raises :class:`ProblemValidationError` naming the file and array at fault.
    """
    limits = limits or UserProblemLimits()
    name = path.name
    if not path.is_file():
        raise ProblemValidationError(f"{name}: missing data file")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ProblemValidationError(f"{name}: not a valid .npz archive ({exc})") from None
    with archive:
        members = archive.infolist()
        total = sum(member.file_size for member in members)
        if total > limits.max_total_bytes:
            raise ProblemValidationError(
                f"{name}: {total} bytes uncompressed, above the limit of {limits.max_total_bytes}"
            )
        for member in members:
            array_name = member.filename.removesuffix(".npy")
            if not member.filename.endswith(".npy"):
                raise ProblemValidationError(f"{name}: member {member.filename!r} is not a .npy array")
            shape, dtype = _npy_header(archive, member, name, array_name)
            _check_dtype(dtype, name, array_name)
            elements = int(np.prod(shape, dtype=np.int64)) if shape else 1
            if elements > limits.max_array_elements:
                raise ProblemValidationError(
                    f"{name}: array '{array_name}' has {elements} elements, above the limit of "
                    f"{limits.max_array_elements}"
                )
    arrays: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            for key in npz.files:
                try:
                    array = npz[key]
                except ValueError as exc:
                    raise ProblemValidationError(f"{name}: array '{key}' cannot be loaded ({exc})") from None
                arrays[key] = np.asarray(array, dtype=np.float64)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ProblemValidationError(f"{name}: unreadable ({exc})") from None
    return arrays


def _npy_header(archive: zipfile.ZipFile, member: zipfile.ZipInfo, name: str, array_name: str) -> tuple:
    try:
        with archive.open(member) as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise ProblemValidationError(
            f"{name}: array '{array_name}' has an unreadable header ({exc})"
        ) from None
    return shape, dtype


def _check_dtype(dtype: np.dtype, name: str, array_name: str) -> None:
    if dtype.hasobject or dtype.kind not in "biuf":
        raise ProblemValidationError(
            f"{name}: array '{array_name}' has dtype {dtype}; only numeric (bool, int, float) arrays are allowed"
        )


def validate_arrays(
    kind: str, arrays: dict[str, np.ndarray], *, pde: Any = None, source: str = "data.npz"
) -> ProblemData:
    """Check names, finiteness and the per-kind shapes; return the arrays in the ``Task`` layout.

    Column vectors ``(n, 1)`` are accepted where a vector ``(n,)`` is expected (targets, ``train_y``) and
    vice versa for PINN boundary/initial values, which are returned as ``(n, 1)``.
    """

    def fail(message: str) -> ProblemValidationError:
        return ProblemValidationError(f"{source}: {message}")

    train: dict[str, np.ndarray] = {}
    query: dict[str, np.ndarray] = {}
    targets: np.ndarray | None = None
    for key, value in arrays.items():
        value = np.asarray(value)
        if value.dtype.hasobject or value.dtype.kind not in "biuf":
            raise fail(f"array '{key}' has dtype {value.dtype}; only numeric arrays are allowed")
        value = value.astype(np.float64, copy=False)
        if value.size == 0:
            raise fail(f"array '{key}' is empty (shape {value.shape})")
        if not np.all(np.isfinite(value)):
            bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
            raise fail(f"array '{key}' contains {bad} NaN or infinite value(s)")
        if key == "targets":
            targets = value
        elif key.startswith("train_") and re.match(ARRAY_NAME, key[6:]):
            train[key[6:]] = value
        elif key.startswith("query_") and re.match(ARRAY_NAME, key[6:]):
            query[key[6:]] = value
        else:
            raise fail(f"unexpected array '{key}': names must be 'targets', 'train_<name>' or 'query_<name>'")
    if targets is None:
        raise fail("missing array 'targets'")

    def need(group: dict[str, np.ndarray], prefix: str, key: str) -> np.ndarray:
        if key not in group:
            raise fail(f"missing array '{prefix}_{key}' (required for kind {kind!r})")
        return group[key]

    def matrix(value: np.ndarray, label: str) -> np.ndarray:
        if value.ndim != 2:
            raise fail(f"array '{label}' must be 2-D (n, d), got shape {value.shape}")
        return value

    def vector(value: np.ndarray, label: str, length: int, other: str) -> np.ndarray:
        if value.ndim == 2 and value.shape[1] == 1:
            value = value[:, 0]
        if value.ndim != 1:
            raise fail(f"array '{label}' must have shape ({length},) or ({length}, 1), got {value.shape}")
        if len(value) != length:
            raise fail(f"array '{label}' has {len(value)} rows but '{other}' has {length}")
        return value

    allowed_query = {"pinn": {"x"}, "regression": {"x"}, "operator": {"u", "y"}}[kind]
    extra = sorted(set(query) - allowed_query)
    if extra:
        raise fail(f"unexpected query array(s) {['query_' + e for e in extra]} for kind {kind!r}")

    if kind in ("pinn", "regression"):
        x_query = matrix(need(query, "query", "x"), "query_x")
        targets = vector(targets, "targets", len(x_query), "query_x")
        if kind == "regression":
            x_train = matrix(need(train, "train", "x"), "train_x")
            train["y"] = vector(need(train, "train", "y"), "train_y", len(x_train), "train_x")
            if x_train.shape[1] != x_query.shape[1]:
                raise fail(f"'train_x' has {x_train.shape[1]} columns but 'query_x' has {x_query.shape[1]}")
        else:
            dim = x_query.shape[1]
            if pde is not None and dim != pde.dim:
                raise fail(f"'query_x' has {dim} columns but the PDE has variables {list(pde.variables)}")
            points = {"query_x": x_query}
            if "x_interior" in train:
                points["train_x_interior"] = matrix(train["x_interior"], "train_x_interior")
            for which in ("boundary", "initial", "observed"):
                x_key, u_key = f"x_{which}", f"u_{which}"
                if (x_key in train) != (u_key in train):
                    raise fail(f"arrays 'train_{x_key}' and 'train_{u_key}' must be given together")
                if x_key in train:
                    points[f"train_{x_key}"] = matrix(train[x_key], f"train_{x_key}")
                    n = len(train[x_key])
                    train[u_key] = vector(train[u_key], f"train_{u_key}", n, f"train_{x_key}")[:, None]
            allowed_train = {"x_interior", "x_boundary", "u_boundary", "x_initial", "u_initial", "x_observed", "u_observed"}
            extra_train = sorted(set(train) - allowed_train)
            if extra_train:
                raise fail(
                    f"unexpected array(s) {['train_' + e for e in extra_train]} for kind 'pinn'; allowed: "
                    f"{sorted('train_' + a for a in allowed_train)} (all optional: collocation points are "
                    "sampled from the PDE spec)"
                )
            for label, value in points.items():
                if value.shape[1] != dim:
                    raise fail(f"array '{label}' has {value.shape[1]} columns, expected {dim}")
                if pde is not None:
                    outside = ~pde.contains(value)
                    if outside.any():
                        first = value[np.flatnonzero(outside)[0]]
                        at = ", ".join(f"{v}={c:.4g}" for v, c in zip(pde.variables, first))
                        raise fail(
                            f"array '{label}' has {int(outside.sum())} point(s) outside the PDE domain "
                            f"(bounds {pde.bounds.tolist()}{', minus the excluded boxes' if pde.exclude else ''}; "
                            f"e.g. {at})"
                        )
    elif kind == "operator":
        u_train = matrix(need(train, "train", "u"), "train_u")
        y_train = matrix(need(train, "train", "y"), "train_y")
        s_train = matrix(need(train, "train", "s"), "train_s")
        if s_train.shape != (len(u_train), len(y_train)):
            raise fail(
                f"'train_s' has shape {s_train.shape}, expected (len(train_u), len(train_y)) = "
                f"{(len(u_train), len(y_train))}"
            )
        u_query = matrix(need(query, "query", "u"), "query_u")
        y_query = matrix(need(query, "query", "y"), "query_y")
        if u_query.shape[1] != u_train.shape[1]:
            raise fail(f"'query_u' has {u_query.shape[1]} sensors but 'train_u' has {u_train.shape[1]}")
        if y_query.shape[1] != y_train.shape[1]:
            raise fail(f"'query_y' has {y_query.shape[1]} columns but 'train_y' has {y_train.shape[1]}")
        if "sensors" in train and len(train["sensors"]) != u_train.shape[1]:
            raise fail(
                f"'train_sensors' has {len(train['sensors'])} entries but 'train_u' has {u_train.shape[1]} columns"
            )
        if targets.shape != (len(u_query), len(y_query)):
            raise fail(
                f"'targets' has shape {targets.shape}, expected (len(query_u), len(query_y)) = "
                f"{(len(u_query), len(y_query))}"
            )
    else:  # pragma: no cover - the config schema restricts kind
        raise fail(f"unknown kind {kind!r}")
    return ProblemData(train=train, query_inputs=query, targets=targets)

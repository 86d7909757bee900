"""A PINN problem's PDE, compiled from its symbolic spec: what a candidate sees as ``task.pde``.

Every PINN problem, built in or brought by a user, is one spec (``problem.yaml: pde``)::

    variables: {x: [0, 1], t: [0, 1]}       # ordered inputs and their bounds; 't' is time when present
    unknown: u
    parameters: {nu: 0.01}
    equation: "u_t + u*u_x - nu*u_xx"        # residual = 0 (or "lhs = rhs")
    conditions:
      - {where: "t == 0", value: "-sin(pi*x)"}            # initial value
      - {where: "t == 0", derivative: u_t, value: "0"}    # initial velocity
      - {where: "x == 0", value: "0"}                     # Dirichlet on a face
      - {where: "x == 1", derivative: u_x, value: "0"}    # Neumann (any derivative; u_n = outward normal)
      - {where: "x == 1", equation: "u_x + 2*u - 1"}      # any other condition on a face (Robin, ...)
      - {periodic: x}
      - {where: boundary, value: "0"}                     # the whole boundary, faces of excluded boxes too
    geometry: {exclude: [{x: [0, 1], y: [-1, 0]}]}        # boxes cut out of the bounding box

and :class:`PDE` turns it into what a physics-informed method needs, with no knowledge of the solution:

* ``residual(inputs, u)``: the equation by torch autograd, for any network ``u`` computed from ``inputs``;
* the domain: ``variables`` (the column order of every point array), ``bounds``, ``time_variable``,
  ``periodic``, ``exclude`` and ``contains(points)``;
* ``conditions``: one :class:`Condition` per initial/boundary condition, each with ``sample(n, rng)``,
  ``target(points)`` and ``residual(inputs, u)`` (zero where the condition holds), for soft penalties;
* samplers ``sample_interior``, ``sample_boundary``, ``sample_initial`` that respect ``exclude``;
* exact constraints: ``periodic_embedding`` and ``constrain(inputs, raw, initial=..., dirichlet=...)``, which
  wraps a network output so that the initial data (and initial velocity) and the Dirichlet data hold by
  construction; ``exact_constraints`` lists what this PDE allows, ``imposed(...)`` which conditions a given
  ``constrain`` call satisfies (so they need no penalty).

Typical use inside ``solve(task)``::

    pde = task.pde
    x = torch.as_tensor(pde.sample_interior(4096, rng), dtype=torch.float32).requires_grad_(True)
    u = pde.constrain(x, net(x), initial=True, dirichlet=True)    # only what exact_constraints allows
    loss = pde.residual(x, u).pow(2).mean()
    for c in pde.conditions:
        if c.index not in pde.imposed(initial=True, dirichlet=True):
            xb = torch.as_tensor(c.sample(512, rng), dtype=torch.float32).requires_grad_(True)
            loss = loss + c.residual(xb, model(xb)).pow(2).mean()

The module depends only on the standard library, numpy and torch: inside the sandbox it is loaded as part of
its own small package. Spec strings are parsed by :mod:`.pde_expr` without ``eval``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch

from .pde_expr import (
    FUNCTIONS,
    NAME_PATTERN,
    PARAMETER_PATTERN,
    Field,
    Node,
    SpecError,
    Symbols,
    backend_for,
    evaluate,
    fields,
    parse_constant,
    parse_derivative,
    parse_expression,
    parse_face,
    split_equation,
    to_text,
)

Array = np.ndarray | torch.Tensor
RngLike = np.random.Generator | int | None

MAX_VARIABLES = 8
MAX_CONDITIONS = 32
MAX_EXCLUDE = 16
MAX_PARAMETERS = 32
MAX_COORDINATE = 1e6
_SPEC_KEYS = {"variables", "unknown", "parameters", "equation", "conditions", "geometry", "time"}
_CONDITION_KEYS = {"where", "value", "derivative", "equation", "periodic"}
_NUMPY = backend_for(np)


def _torch_backend() -> Any:
    class Backend:
        pass

    backend = Backend()
    for name in FUNCTIONS:
        function = getattr(torch, name)
        scalar = _scalar_function(name)
        setattr(backend, name, _either(function, scalar))
    return backend


def _scalar_function(name: str) -> Any:
    def apply(value: float) -> float:
        try:
            if name == "sign":
                return float((value > 0) - (value < 0))
            if name == "abs":
                return abs(value)
            return float(getattr(math, name)(value))
        except (ValueError, OverflowError):
            return float("nan")

    return apply


def _either(tensor_function: Any, scalar_function: Any) -> Any:
    def apply(value: Any) -> Any:
        return tensor_function(value) if isinstance(value, torch.Tensor) else scalar_function(value)

    return apply


_TORCH = _torch_backend()


# ------------------------------------------------------------------------------------------------------------
# Autograd helpers
# ------------------------------------------------------------------------------------------------------------
def gradient(u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """All first partial derivatives of ``u`` (``(N, 1)`` or ``(N,)``) w.r.t. ``x`` (``(N, d)``) -> ``(N, d)``.

    The graph is kept (``create_graph=True``) so the result can be differentiated again and back-propagated to
    the network's parameters. If ``u`` does not depend on ``x`` the derivative is zeros rather than an error.
    """
    if not u.requires_grad:
        return torch.zeros_like(x)
    (grad,) = torch.autograd.grad(u, x, grad_outputs=torch.ones_like(u), create_graph=True, allow_unused=True)
    return torch.zeros_like(x) if grad is None else grad


class _Fields:
    """u and its partial derivatives at one point set, each computed once (a derivative reuses its parent's)."""

    def __init__(self, inputs: torch.Tensor, u: torch.Tensor) -> None:
        self.inputs = inputs
        self.values: dict[tuple[int, ...], torch.Tensor] = {(0,) * inputs.shape[1]: u.reshape(-1, 1)}
        self.grads: dict[tuple[int, ...], torch.Tensor] = {}

    def __call__(self, field: Field) -> torch.Tensor:
        return self.get(field.counts)

    def get(self, counts: tuple[int, ...]) -> torch.Tensor:
        if counts in self.values:
            return self.values[counts]
        column = max(j for j, c in enumerate(counts) if c)
        parent = tuple(c - (j == column) for j, c in enumerate(counts))
        if parent not in self.grads:
            self.grads[parent] = gradient(self.get(parent), self.inputs)
        value = self.grads[parent][:, column : column + 1]
        self.values[counts] = value
        return value


def _rng(rng: RngLike) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _is_torch(points: Array) -> bool:
    return isinstance(points, torch.Tensor)


def _column(value: Any, points: Array) -> Array:
    """An expression's value as an ``(n, 1)`` column of the type of ``points`` (constants broadcast)."""
    n = points.shape[0]
    if _is_torch(points):
        if isinstance(value, torch.Tensor):
            return value.reshape(-1, 1).expand(n, 1) if value.numel() == 1 else value.reshape(n, 1)
        return torch.full((n, 1), float(value), dtype=points.dtype, device=points.device)
    array = np.asarray(value, dtype=np.float64)
    return np.broadcast_to(array.reshape(-1, 1) if array.size > 1 else array.reshape(1, 1), (n, 1)).copy()


# ------------------------------------------------------------------------------------------------------------
# Geometry
# ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Face:
    """A flat piece of the domain's boundary: ``x[column] == value``, with the other coordinates in ``ranges``.

    ``normal`` is the sign of the outward normal along ``column``; ``box`` is ``None`` for a face of the
    bounding box and the index of the excluded box otherwise. Points of ``ranges`` that fall into an excluded
    box are not part of the face (``Domain.on_face`` rejects them), so a face is sampled by rejection.
    """

    column: int
    value: float
    normal: int
    box: int | None
    ranges: np.ndarray  # (d, 2)

    @property
    def label(self) -> str:
        return f"box {self.box} face" if self.box is not None else "face"


class Domain:
    """The bounding box minus the excluded boxes; time (if any) runs over its full interval."""

    def __init__(
        self, bounds: np.ndarray, spatial: list[int], periodic: list[int], exclude: list[np.ndarray]
    ) -> None:
        self.bounds = bounds
        self.spatial = spatial
        self.periodic = periodic
        self.exclude = exclude
        self.faces = self._faces()

    def _faces(self) -> list[Face]:
        faces = []
        for column in self.spatial:
            if column in self.periodic:
                continue
            for side, normal in ((0, -1), (1, 1)):
                faces.append(Face(column, float(self.bounds[column, side]), normal, None, self.bounds.copy()))
        for index, box in enumerate(self.exclude):
            for column in self.spatial:
                for side, normal in ((0, 1), (1, -1)):  # the outward normal of the domain points into the box
                    value = float(box[column, side])
                    low, high = self.bounds[column]
                    if value <= low or value >= high:
                        continue  # on or beyond the bounding box: not a boundary of the domain
                    ranges = box.copy()
                    ranges[column] = value
                    faces.append(Face(column, value, normal, index, ranges))
        return faces

    def inside_box(self, points: np.ndarray, box: np.ndarray, strict_column: int | None = None) -> np.ndarray:
        """Points strictly inside ``box`` in every spatial column (``strict_column`` may be closed instead)."""
        mask = np.ones(len(points), dtype=bool)
        for column in self.spatial:
            low, high = box[column]
            value = points[:, column]
            if column == strict_column:
                mask &= (value >= low) & (value <= high)
            else:
                mask &= (value > low) & (value < high)
        return mask

    def contains(self, points: np.ndarray, tolerance: float = 1e-9) -> np.ndarray:
        """Points in the closed domain (slack ``tolerance`` times each span at the bounding box)."""
        low, high = self.bounds[:, 0], self.bounds[:, 1]
        slack = tolerance * (high - low)
        mask = np.all((points >= low - slack) & (points <= high + slack), axis=1)
        for box in self.exclude:
            mask &= ~self.inside_box(points, box)
        return mask

    def on_face(self, points: np.ndarray, face: Face) -> np.ndarray:
        """Which of ``points`` (already on the face's plane and in its ranges) belong to the boundary."""
        mask = np.ones(len(points), dtype=bool)
        for index, box in enumerate(self.exclude):
            if index == face.box:
                continue
            mask &= ~self.inside_box(points, box, strict_column=face.column)
        return mask

    def face_area(self, face: Face) -> float:
        area = 1.0
        for column in self.spatial:
            if column != face.column:
                area *= float(face.ranges[column, 1] - face.ranges[column, 0])
        return area

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` points uniform in the domain: one draw in the box, then rejection of excluded points."""
        low, high = self.bounds[:, 0], self.bounds[:, 1]
        points = low + (high - low) * rng.random((int(n), len(low)))
        if not self.exclude or n == 0:
            return points
        kept = [points[self.contains(points, 0.0)]]
        count = len(kept[0])
        while count < n:
            batch = low + (high - low) * rng.random((max(64, 2 * (n - count)), len(low)))
            batch = batch[self.contains(batch, 0.0)]
            kept.append(batch)
            count += len(batch)
        return np.concatenate(kept)[: int(n)]

    def sample_faces(self, faces: list[Face], n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` points uniform on the union of ``faces`` (area-weighted, excluded parts rejected)."""
        dim = len(self.bounds)
        if n <= 0 or not faces:
            return np.empty((0, dim))
        areas = np.array([self.face_area(face) for face in faces], dtype=np.float64)
        if self.spatial and len(self.spatial) == 1:
            areas = np.ones(len(faces))
        weights = areas / areas.sum() if areas.sum() > 0 else np.full(len(faces), 1.0 / len(faces))
        kept: list[np.ndarray] = []
        count, attempts = 0, 0
        while count < n and attempts < 64:
            attempts += 1
            m = max(16, 2 * (n - count)) if attempts > 1 else int(n)
            choice = rng.choice(len(faces), size=m, p=weights)
            batch = np.empty((m, dim))
            for k, face in enumerate(faces):
                mask = choice == k
                if not mask.any():
                    continue
                low, high = face.ranges[:, 0], face.ranges[:, 1]
                block = low + (high - low) * rng.random((int(mask.sum()), dim))
                block[:, face.column] = face.value
                batch[mask] = block
                keep = self.on_face(block, face)
                batch[np.flatnonzero(mask)[~keep]] = np.nan
            batch = batch[~np.isnan(batch).any(axis=1)]
            kept.append(batch)
            count += len(batch)
        points = np.concatenate(kept) if kept else np.empty((0, dim))
        return points[: int(n)]

    def face_of(self, points: np.ndarray, faces: list[Face]) -> np.ndarray:
        """For each point, the index (into ``faces``) of the face it lies on; the nearest plane if none."""
        distances = np.full((len(points), len(faces)), np.inf)
        for k, face in enumerate(faces):
            gap = np.abs(points[:, face.column] - face.value)
            within = np.ones(len(points), dtype=bool)
            for column in self.spatial:
                if column == face.column:
                    continue
                low, high = face.ranges[column]
                slack = 1e-9 * max(1.0, high - low)
                within &= (points[:, column] >= low - slack) & (points[:, column] <= high + slack)
            distances[:, k] = np.where(within, gap, gap + 1e6)
        return np.argmin(distances, axis=1) if faces else np.zeros(len(points), dtype=int)


# ------------------------------------------------------------------------------------------------------------
# Conditions
# ------------------------------------------------------------------------------------------------------------
class Condition:
    """One initial or boundary condition, usable as a soft penalty.

    Attributes:
        index: position in the spec's ``conditions`` list (periodic entries included).
        kind: ``"initial"`` or ``"boundary"``.
        where: the spec's text (``"t == 0"``, ``"x == 1"``, ``"boundary"``).
        derivative: ``None`` for a value condition, the derivative's name (``"u_x"``), or ``"normal"``.
        is_dirichlet: a value condition on a boundary face.
        is_initial_value / is_initial_velocity: ``u(., t0)`` / ``u_t(., t0)`` prescribed.
    """

    def __init__(
        self,
        pde: "PDE",
        index: int,
        kind: str,
        where: str,
        faces: list[Face],
        derivative: Field | str | None,
        value: Node | None,
        equation: Node | None,
        text: str = "",
    ) -> None:
        self.pde = pde
        self.text = text  # the spec's value or equation, as written
        self.index = index
        self.kind = kind
        self.where = where
        self.faces = faces
        self._derivative = derivative
        self._value = value
        self._equation = equation

    @property
    def derivative(self) -> str | None:
        if self._derivative is None or isinstance(self._derivative, str):
            return self._derivative
        return to_text(self._derivative, self.pde.variables, self.pde.unknown)

    @property
    def needs_grad(self) -> bool:
        """Whether :meth:`residual` differentiates ``u`` (its inputs then need ``requires_grad=True``)."""
        return self._derivative is not None or self._equation is not None

    @property
    def is_dirichlet(self) -> bool:
        return self.kind == "boundary" and self._derivative is None and self._equation is None

    @property
    def is_initial_value(self) -> bool:
        return self.kind == "initial" and self._derivative is None and self._equation is None

    @property
    def is_initial_velocity(self) -> bool:
        if self.kind != "initial" or not isinstance(self._derivative, Field) or self._equation is not None:
            return False
        time = self.pde.index(self.pde.time_variable)
        return self._derivative.counts == tuple(int(j == time) for j in range(self.pde.dim))

    def describe(self) -> str:
        if self._equation is not None:
            return f"{self.text} = 0 on {self.where}"
        target = self.derivative if self._derivative is not None else self.pde.unknown
        if target == "normal":
            target = f"{self.pde.unknown}_n (outward normal derivative)"
        return f"{target} = {self.text} on {self.where}"

    def sample(self, n: int, rng: RngLike = None) -> np.ndarray:
        """``n`` points where the condition applies (uniform over its faces or the initial slice)."""
        generator = _rng(rng)
        if self.kind == "initial":
            return self.pde.sample_initial(n, generator)
        points = self.pde.domain.sample_faces(self.faces, n, generator)
        return self.pde._spread_time(points, generator)

    def target(self, points: Array) -> Array:
        """The prescribed value at ``points`` -> ``(n, 1)``; numpy in, numpy out; torch in, torch out."""
        self.pde._check_points(points)
        if self._value is None:  # a general condition carries its data inside its equation
            return _column(0.0, points)
        if self.kind == "initial":
            points = self.pde._at_initial_time(points)
        return self.pde._evaluate(self._value, points)

    def residual(self, inputs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """``(N, 1)``: the condition's operator applied to ``u`` minus its data; zero where it holds.

        ``u`` must be computed from ``inputs`` (with ``requires_grad=True`` when the condition involves a
        derivative).
        """
        u = self.pde._split(inputs, u, need_grad=self._derivative is not None or self._equation is not None)
        fields = _Fields(inputs, u)
        if self._equation is not None:
            value = evaluate(self._equation, _TORCH, self.pde._columns(inputs), self.pde.params, fields)
            return _column(value, inputs)
        if self._derivative is None:
            applied = u
        elif self._derivative == "normal":
            normals = self.normals(inputs.detach().cpu().numpy())
            grad = fields.grads.get((0,) * self.pde.dim)
            if grad is None:
                grad = gradient(u, inputs)
            applied = (grad * torch.as_tensor(normals, dtype=inputs.dtype, device=inputs.device)).sum(1, keepdim=True)
        else:
            applied = fields(self._derivative)
        return applied - self.target(inputs)

    def normals(self, points: np.ndarray) -> np.ndarray:
        """Outward unit normals ``(n, d)`` at points of this condition's faces."""
        normals = np.zeros((len(points), self.pde.dim))
        if not self.faces:
            return normals
        which = self.pde.domain.face_of(points, self.faces)
        for k, face in enumerate(self.faces):
            normals[which == k, face.column] = face.normal
        return normals

    def holds_on(self, points: np.ndarray) -> np.ndarray:
        """Which ``points`` lie where this condition applies (its faces, or the initial slice)."""
        if self.kind == "initial":
            column = self.pde.index(self.pde.time_variable)
            t0 = self.pde.bounds[column, 0]
            return np.abs(points[:, column] - t0) <= 1e-9 * max(1.0, abs(t0))
        mask = np.zeros(len(points), dtype=bool)
        for face in self.faces:
            on_plane = np.abs(points[:, face.column] - face.value) <= 1e-9 * max(1.0, abs(face.value))
            within = np.ones(len(points), dtype=bool)
            for column in self.pde.domain.spatial:
                if column != face.column:
                    low, high = face.ranges[column]
                    within &= (points[:, column] >= low - 1e-12) & (points[:, column] <= high + 1e-12)
            candidate = on_plane & within
            if candidate.any():
                candidate[candidate] = self.pde.domain.on_face(points[candidate], face)
            mask |= candidate
        return mask


# ------------------------------------------------------------------------------------------------------------
# The PDE
# ------------------------------------------------------------------------------------------------------------
class PDE:
    """A PDE on a box (minus excluded boxes) with its conditions, compiled from a spec; see the module doc.

    Attributes:
        variables: names of the input columns, in the spec's order.
        bounds: ``(d, 2)`` float64; row ``j`` is ``[low, high]`` of ``variables[j]``.
        time_variable: the time variable (``"t"`` by default when present), ``None`` for steady problems.
        periodic: variables in which the solution is periodic with period ``high - low``.
        params: the spec's parameters, as floats.
        unknown: the name of the unknown (``"u"``).
        equation: the residual as text; ``conditions``: the :class:`Condition` objects (not periodic ones).
        exclude: ``(d, 2)`` arrays of the excluded boxes (time rows span the whole interval).
    """

    def __init__(self, spec: Mapping[str, Any]) -> None:
        if not isinstance(spec, Mapping):
            raise SpecError(f"pde: expected a mapping with 'variables', 'equation', ..., got {type(spec).__name__}")
        unknown_keys = sorted(set(spec) - _SPEC_KEYS)
        if unknown_keys:
            raise SpecError(f"pde: unknown field(s) {unknown_keys}; allowed: {sorted(_SPEC_KEYS)}")
        self.unknown = self._read_unknown(spec.get("unknown", "u"))
        self.variables, bounds = self._read_variables(spec.get("variables"))
        self.bounds = np.asarray(bounds, dtype=np.float64)
        self.time_variable = self._read_time(spec)
        self.params = self._read_parameters(spec.get("parameters") or {})
        values = tuple(self.params.items())
        self.symbols = Symbols(self.variables, tuple(self.params), self.unknown, values)
        self.data_symbols = Symbols(self.variables, tuple(self.params), None, values)
        if "equation" not in spec:
            raise SpecError("pde.equation: missing (the residual, e.g. 'u_t - nu*u_xx')")
        text = split_equation(spec["equation"], "pde.equation")
        self._equation = parse_expression(text, self.symbols, "pde.equation")
        used = fields(self._equation)
        if not used:
            raise SpecError(f"pde.equation: does not involve the unknown {self.unknown!r}")
        if not any(field.order for field in used):
            raise SpecError(f"pde.equation: has no derivative of {self.unknown!r}; it is not a differential equation")
        self.equation = str(spec["equation"])
        raw_conditions = spec.get("conditions") or []
        if not isinstance(raw_conditions, list):
            raise SpecError("pde.conditions: expected a list")
        if len(raw_conditions) > MAX_CONDITIONS:
            raise SpecError(f"pde.conditions: {len(raw_conditions)} conditions, above the limit of {MAX_CONDITIONS}")
        self.periodic = self._read_periodic(raw_conditions)
        self.exclude = self._read_exclude(spec.get("geometry"))
        spatial = [j for j, v in enumerate(self.variables) if v != self.time_variable]
        self.domain = Domain(self.bounds, spatial, [self.index(v) for v in self.periodic], self.exclude)
        self._check_volume()
        self.conditions: list[Condition] = self._read_conditions(raw_conditions)
        self._spec = self._normalised(spec, raw_conditions)
        self._plan_exact()

    # --- reading the spec ------------------------------------------------------------------------------------
    @staticmethod
    def _read_unknown(name: Any) -> str:
        if not isinstance(name, str) or not NAME_PATTERN.match(name) or name in FUNCTIONS or name == "pi":
            raise SpecError(f"pde.unknown: {name!r} is not a valid name (a letter, then letters or digits)")
        return name

    def _read_variables(self, raw: Any) -> tuple[tuple[str, ...], list[list[float]]]:
        where = "pde.variables"
        if isinstance(raw, Mapping):
            items = list(raw.items())
        elif isinstance(raw, list):
            items = []
            for k, entry in enumerate(raw):
                if isinstance(entry, Mapping) and len(entry) == 1:
                    items.append(next(iter(entry.items())))
                elif isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[0], str):
                    items.append((entry[0], entry[1]))
                else:
                    raise SpecError(f"{where}[{k}]: expected {{name: [low, high]}}")
        else:
            raise SpecError(f"{where}: expected a mapping of names to [low, high], e.g. {{x: [0, 1], t: [0, 1]}}")
        if not items:
            raise SpecError(f"{where}: at least one variable is required")
        if len(items) > MAX_VARIABLES:
            raise SpecError(f"{where}: {len(items)} variables, above the limit of {MAX_VARIABLES}")
        names: list[str] = []
        bounds: list[list[float]] = []
        for name, value in items:
            if not isinstance(name, str) or not NAME_PATTERN.match(name):
                raise SpecError(f"{where}: {name!r} is not a valid variable name (a letter, then letters or digits)")
            if name in FUNCTIONS or name == "pi" or name == self.unknown or name in names:
                raise SpecError(f"{where}: variable name {name!r} is reserved or repeated")
            bounds.append(self._read_interval(value, f"{where}.{name}"))
            names.append(name)
        return tuple(names), bounds

    @staticmethod
    def _read_interval(value: Any, where: str) -> list[float]:
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise SpecError(f"{where}: expected [low, high], got {value!r}"[:200])
        low, high = (parse_constant(item, where) for item in value)
        if not (low < high):
            raise SpecError(f"{where}: low {low:g} must be below high {high:g}")
        if max(abs(low), abs(high)) > MAX_COORDINATE or high - low < 1e-9:
            raise SpecError(f"{where}: bounds [{low:g}, {high:g}] out of range (|bound| <= 1e6, width >= 1e-9)")
        return [low, high]

    def _read_time(self, spec: Mapping[str, Any]) -> str | None:
        if "time" in spec:
            time = spec["time"]
            if time is None:
                return None
            if time not in self.variables:
                raise SpecError(f"pde.time: {time!r} is not one of the variables {list(self.variables)}")
            return str(time)
        return "t" if "t" in self.variables else None

    def _read_parameters(self, raw: Any) -> dict[str, float]:
        if not isinstance(raw, Mapping):
            raise SpecError("pde.parameters: expected a mapping of names to numbers")
        if len(raw) > MAX_PARAMETERS:
            raise SpecError(f"pde.parameters: {len(raw)} parameters, above the limit of {MAX_PARAMETERS}")
        params: dict[str, float] = {}
        for name, value in raw.items():
            if not isinstance(name, str) or not PARAMETER_PATTERN.match(name):
                raise SpecError(f"pde.parameters: {name!r} is not a valid name")
            if name in self.variables or name in FUNCTIONS or name == "pi" or name == self.unknown or name.startswith(
                self.unknown + "_"
            ):
                raise SpecError(f"pde.parameters: {name!r} clashes with a variable, a function or the unknown")
            params[name] = parse_constant(value, f"pde.parameters.{name}")
        return params

    def _read_periodic(self, raw_conditions: list[Any]) -> tuple[str, ...]:
        periodic: list[str] = []
        for k, entry in enumerate(raw_conditions):
            if isinstance(entry, Mapping) and "periodic" in entry:
                where = f"pde.conditions[{k}]"
                if set(entry) != {"periodic"}:
                    raise SpecError(f"{where}: a periodic condition has only the key 'periodic'")
                name = entry["periodic"]
                if name not in self.variables:
                    raise SpecError(f"{where}.periodic: unknown variable {name!r} (variables: {list(self.variables)})")
                if name == self.time_variable:
                    raise SpecError(f"{where}.periodic: periodic in time ({name!r}) is not supported")
                if name in periodic:
                    raise SpecError(f"{where}.periodic: {name!r} is already periodic")
                periodic.append(name)
        return tuple(periodic)

    def _read_exclude(self, geometry: Any) -> list[np.ndarray]:
        if geometry is None:
            return []
        if not isinstance(geometry, Mapping) or set(geometry) - {"exclude"}:
            raise SpecError("pde.geometry: expected {exclude: [{x: [low, high], ...}, ...]}")
        boxes = geometry.get("exclude") or []
        if not isinstance(boxes, list):
            raise SpecError("pde.geometry.exclude: expected a list of boxes")
        if len(boxes) > MAX_EXCLUDE:
            raise SpecError(f"pde.geometry.exclude: {len(boxes)} boxes, above the limit of {MAX_EXCLUDE}")
        result = []
        for k, box in enumerate(boxes):
            where = f"pde.geometry.exclude[{k}]"
            if not isinstance(box, Mapping) or not box:
                raise SpecError(f"{where}: expected a mapping of spatial variables to [low, high]")
            array = self.bounds.copy()
            for name, interval in box.items():
                if name not in self.variables:
                    raise SpecError(f"{where}: unknown variable {name!r} (variables: {list(self.variables)})")
                if name == self.time_variable:
                    raise SpecError(f"{where}: boxes are spatial; {name!r} is time")
                if name in self.periodic:
                    raise SpecError(f"{where}: {name!r} is periodic; a box cut across it would break periodicity")
                low, high = self._read_interval(interval, f"{where}.{name}")
                j = self.index(name)
                array[j] = [max(low, self.bounds[j, 0]), min(high, self.bounds[j, 1])]
                if array[j, 0] >= array[j, 1]:
                    raise SpecError(f"{where}.{name}: [{low:g}, {high:g}] lies outside the domain's bounds")
            result.append(array)
        return result

    def _check_volume(self) -> None:
        if not self.exclude:
            return
        probe = np.random.default_rng(0)
        low, high = self.bounds[:, 0], self.bounds[:, 1]
        points = low + (high - low) * probe.random((20_000, self.dim))
        share = float(self.domain.contains(points, 0.0).mean())
        if share < 1e-3:
            raise SpecError("pde.geometry.exclude: the excluded boxes cover (nearly) the whole domain: it is empty")

    def _read_conditions(self, raw_conditions: list[Any]) -> list[Condition]:
        conditions: list[Condition] = []
        for k, entry in enumerate(raw_conditions):
            where = f"pde.conditions[{k}]"
            if not isinstance(entry, Mapping):
                raise SpecError(f"{where}: expected a mapping such as {{where: 'x == 0', value: '0'}}")
            if "periodic" in entry:
                continue
            unknown = sorted(set(entry) - _CONDITION_KEYS)
            if unknown:
                raise SpecError(f"{where}: unknown field(s) {unknown}; allowed: {sorted(_CONDITION_KEYS)}")
            if "where" not in entry:
                raise SpecError(f"{where}: missing 'where' ('boundary' or a face such as 'x == 0')")
            has_value, has_equation = "value" in entry, "equation" in entry
            if has_value == has_equation:
                raise SpecError(f"{where}: give exactly one of 'value' (with optional 'derivative') or 'equation'")
            if has_equation and "derivative" in entry:
                raise SpecError(f"{where}: 'derivative' goes with 'value', not with 'equation'")
            kind, place, faces = self._read_where(entry["where"], f"{where}.where")
            derivative: Field | str | None = None
            if "derivative" in entry:
                derivative = self._read_derivative(entry["derivative"], kind, f"{where}.derivative")
            value = equation = None
            if has_value:
                value = parse_expression(entry["value"], self.data_symbols, f"{where}.value")
            else:
                equation = parse_expression(
                    split_equation(entry["equation"], f"{where}.equation"), self.symbols, f"{where}.equation"
                )
                if not fields(equation):
                    raise SpecError(f"{where}.equation: does not involve the unknown {self.unknown!r}")
            text = str(entry["value"] if has_value else entry["equation"])
            condition = Condition(self, k, kind, place, faces, derivative, value, equation, text)
            self._check_finite(condition, where)
            conditions.append(condition)
        initial = [c for c in conditions if c.is_initial_value]
        if len(initial) > 1:
            raise SpecError(f"pde.conditions[{initial[1].index}]: a second initial value (one is allowed)")
        velocity = [c for c in conditions if c.is_initial_velocity]
        if len(velocity) > 1:
            raise SpecError(f"pde.conditions[{velocity[1].index}]: a second initial velocity (one is allowed)")
        return conditions

    def _read_where(self, text: Any, where: str) -> tuple[str, str, list[Face]]:
        if isinstance(text, str) and text.strip() == "boundary":
            faces = list(self.domain.faces)
            if not faces:
                raise SpecError(f"{where}: the domain has no boundary (every spatial direction is periodic)")
            return "boundary", "boundary", faces
        name, value = parse_face(text, self.variables, where)
        column = self.index(name)
        low, high = self.bounds[column]
        label = f"{name} == {value:g}"
        tolerance = 1e-9 * max(1.0, high - low)
        if name == self.time_variable:
            if abs(value - low) > tolerance:
                raise SpecError(
                    f"{where}: conditions in time are initial conditions at {name} == {low:g}; "
                    f"'{label}' is not (terminal conditions are not supported)"
                )
            return "initial", label, []
        if name in self.periodic:
            raise SpecError(f"{where}: {name!r} is periodic, so '{label}' is not a boundary")
        faces = [f for f in self.domain.faces if f.column == column and abs(f.value - value) <= tolerance]
        if not faces:
            planes = sorted({f.value for f in self.domain.faces if f.column == column})
            raise SpecError(
                f"{where}: no face of the domain lies on '{label}' ({name} in [{low:g}, {high:g}]; faces at "
                f"{name} = {', '.join(f'{p:g}' for p in planes)})"
            )
        return "boundary", label, faces

    def _read_derivative(self, text: Any, kind: str, where: str) -> Field | str:
        if isinstance(text, str) and text.strip() in ("normal", f"{self.unknown}_n") and "n" not in self.variables:
            if kind == "initial":
                raise SpecError(f"{where}: a normal derivative is for boundary faces, not initial conditions")
            return "normal"
        return parse_derivative(text, self.symbols, where)

    def _check_finite(self, condition: Condition, where: str) -> None:
        probe = np.random.default_rng(1)
        points = condition.sample(64, probe)
        if condition._value is not None and len(points):
            with np.errstate(all="ignore"):
                values = np.asarray(condition.target(points), dtype=np.float64)
            if not np.all(np.isfinite(values)):
                bad = points[~np.isfinite(values[:, 0])][0]
                at = ", ".join(f"{v}={p:.3g}" for v, p in zip(self.variables, bad))
                raise SpecError(f"{where}.value: not finite at some points of the condition (e.g. {at})")

    def _normalised(self, spec: Mapping[str, Any], raw_conditions: list[Any]) -> dict[str, Any]:
        conditions = []
        for entry in raw_conditions:
            conditions.append({key: (value if key == "periodic" else str(value)) for key, value in entry.items()})
        out: dict[str, Any] = {
            "variables": [{name: [float(lo), float(hi)]} for name, (lo, hi) in zip(self.variables, self.bounds)],
            "unknown": self.unknown,
            "parameters": dict(self.params),
            "equation": str(spec["equation"]),
            "conditions": conditions,
            "time": self.time_variable,
        }
        if self.exclude:
            # A box omits time and the periodic variables (it spans them fully); naming them would be rejected.
            spatial = [v for v in self.variables if v != self.time_variable and v not in self.periodic]
            out["geometry"] = {
                "exclude": [
                    {name: [float(box[self.index(name), 0]), float(box[self.index(name), 1])] for name in spatial}
                    for box in self.exclude
                ]
            }
        return out

    # --- domain ----------------------------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Number of input columns."""
        return len(self.variables)

    @property
    def spatial_variables(self) -> tuple[str, ...]:
        """The variables other than time."""
        return tuple(v for v in self.variables if v != self.time_variable)

    def index(self, variable: str) -> int:
        """Column of ``variable`` in the input arrays (``pde.index("t")`` is 1 for ``("x", "t")``)."""
        try:
            return self.variables.index(variable)
        except ValueError:
            raise ValueError(f"{variable!r} is not one of {self.variables}") from None

    def period(self, variable: str) -> float:
        """Length of the domain in a periodic direction."""
        if variable not in self.periodic:
            raise ValueError(f"{variable!r} is not periodic (periodic: {self.periodic})")
        low, high = self.bounds[self.index(variable)]
        return float(high - low)

    def contains(self, points: np.ndarray, tolerance: float = 1e-9) -> np.ndarray:
        """Boolean mask: which ``(n, d)`` points lie in the closed domain (outside every excluded box)."""
        return self.domain.contains(np.asarray(points, dtype=np.float64), tolerance)

    def derivative(self, u: torch.Tensor, inputs: torch.Tensor, variable: str, order: int = 1) -> torch.Tensor:
        """``d^order u / d variable^order`` as ``(N, 1)``, by repeated autograd (graph kept)."""
        column = self.index(variable)
        out = u.reshape(-1, 1)
        for _ in range(order):
            out = gradient(out, inputs)[:, column : column + 1]
        return out

    # --- the equation ----------------------------------------------------------------------------------------
    def residual(self, inputs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Pointwise residual ``(N, 1)``, zero where ``u`` solves the equation.

        ``inputs``: ``(N, d)`` points in the column order of ``variables``, with ``requires_grad=True``;
        ``u``: ``(N, 1)`` (or ``(N,)``) computed *from* ``inputs``. Float32 or float64, any device; the result
        keeps the graph, so ``residual.pow(2).mean()`` back-propagates to the network's parameters.
        """
        u = self._split(inputs, u)
        value = evaluate(self._equation, _TORCH, self._columns(inputs), self.params, _Fields(inputs, u))
        return _column(value, inputs)

    def evaluate(self, expression: str, points: Array) -> Array:
        """Any spec expression without the unknown (e.g. a source term) at ``points`` -> ``(n, 1)``."""
        node = parse_expression(expression, self.data_symbols, "expression")
        self._check_points(points)
        return self._evaluate(node, points)

    # --- conditions ------------------------------------------------------------------------------------------
    def initial_values(self, points: Array) -> Array:
        """``u(x, t0)`` at the spatial coordinates of ``points`` (the time column is ignored) -> ``(n, 1)``."""
        condition = self._initial_value
        if condition is None:
            raise ValueError("this PDE has no initial value condition")
        return condition.target(points)

    def initial_velocity(self, points: Array) -> Array:
        """``u_t(x, t0)`` at the spatial coordinates of ``points`` -> ``(n, 1)`` (wave-type equations)."""
        if self._initial_velocity is None:
            raise ValueError("this PDE has no initial velocity condition")
        return self._initial_velocity.target(points)

    def boundary_values(self, points: Array) -> Array:
        """Dirichlet data at points of the Dirichlet boundary -> ``(n, 1)``, same type as ``points``.

        Each point takes the data of the Dirichlet condition whose faces it lies on; a point on no Dirichlet
        face raises ``ValueError``.
        """
        self._check_points(points)
        array = points.detach().cpu().numpy() if _is_torch(points) else np.asarray(points)
        out = torch.zeros((points.shape[0], 1), dtype=points.dtype, device=points.device) if _is_torch(points) else np.zeros((len(array), 1))
        covered = np.zeros(len(array), dtype=bool)
        for condition in self.conditions:
            if not condition.is_dirichlet:
                continue
            mask = condition.holds_on(array) & ~covered
            if mask.any():
                index = torch.as_tensor(np.flatnonzero(mask), device=points.device) if _is_torch(points) else mask
                out[index] = condition.target(points[index])
                covered |= mask
        if len(array) and not covered.all():
            raise ValueError(f"{int((~covered).sum())} point(s) lie on no Dirichlet face")
        return out

    def sample_interior(self, n: int, rng: RngLike = None) -> np.ndarray:
        """``n`` points uniform in the domain (excluded boxes rejected), ``(n, d)`` float64.

        ``rng``: a ``numpy.random.Generator`` (recommended: ``np.random.default_rng(task.seed)``), an int
        seed, or ``None`` for fresh entropy (not reproducible).
        """
        return self.domain.sample(int(n), _rng(rng))

    def sample_boundary(self, n: int, rng: RngLike = None, dirichlet_only: bool = False) -> np.ndarray:
        """``n`` points uniform on the spatial boundary (all faces, or only Dirichlet faces) -> ``(n, d)``.

        Time, for evolution equations, is uniform in its interval. ``(0, d)`` if there is no such boundary.
        """
        generator = _rng(rng)
        if dirichlet_only:
            faces = self._dirichlet_faces()
        else:
            faces = list(self.domain.faces)
        points = self.domain.sample_faces(faces, int(n), generator)
        return self._spread_time(points, generator)

    def sample_initial(self, n: int, rng: RngLike = None) -> np.ndarray:
        """``n`` points at ``t = t0`` with uniform spatial coordinates, ``(n, d)``; ``(0, d)`` if steady."""
        if self.time_variable is None:
            return np.empty((0, self.dim))
        points = self.sample_interior(n, rng)
        column = self.index(self.time_variable)
        points[:, column] = self.bounds[column, 0]
        return points

    # --- exact constraints -----------------------------------------------------------------------------------
    @property
    def exact_constraints(self) -> tuple[str, ...]:
        """What :meth:`periodic_embedding` and :meth:`constrain` can impose exactly for this PDE.

        ``"periodic:<var>"`` per periodic variable; ``"initial"`` (initial value, and velocity if given);
        ``"dirichlet"`` (every Dirichlet condition); ``"initial+dirichlet"`` when both can be imposed together.
        """
        tags = [f"periodic:{v}" for v in self.periodic]
        if self._initial_value is not None:
            tags.append("initial")
        if self._dirichlet_mode is not None:
            tags.append("dirichlet")
        if self._combined_mode is not None:
            tags.append("initial+dirichlet")
        return tuple(tags)

    def can_constrain(self, initial: bool, dirichlet: bool) -> bool:
        """Whether :meth:`constrain` accepts this combination."""
        if initial and dirichlet:
            return self._combined_mode is not None
        if initial:
            return self._initial_value is not None
        if dirichlet:
            return self._dirichlet_mode is not None
        return True

    def imposed(self, initial: bool, dirichlet: bool) -> set[int]:
        """Indices of the conditions that ``constrain(..., initial, dirichlet)`` satisfies by construction."""
        if not self.can_constrain(initial, dirichlet):
            return set()
        done: set[int] = set()
        if initial:
            done.add(self._initial_value.index)
            if self._initial_velocity is not None:
                done.add(self._initial_velocity.index)
        if dirichlet:
            done |= {c.index for c in self.conditions if c.is_dirichlet}
        return done

    def constrain(self, inputs: torch.Tensor, raw: torch.Tensor, initial: bool = False, dirichlet: bool = False) -> torch.Tensor:
        """Wrap a network output ``raw`` (``(N, 1)``) so that the chosen conditions hold exactly.

        * initial: ``u = g0 + T g1 + T^k raw`` with ``T = t - t0`` (``g1``, ``k = 2`` when an initial velocity
          is given, else ``k = 1``);
        * dirichlet: ``u = G + D raw``, where ``D`` vanishes on the Dirichlet faces (a product of face factors
          and distances to excluded boxes) and ``G`` extends the Dirichlet data (zero when they vanish, a
          linear blend when they sit on the faces of one variable);
        * both: ``u = g0 + T g1 + G[g - g0 - T g1] + D T^k raw``.

        Works in float32 and float64 and keeps the graph (derivatives of ``u`` are exact). Raises
        ``ValueError`` for a combination that :meth:`can_constrain` refuses.
        """
        if not self.can_constrain(initial, dirichlet):
            raise ValueError(
                f"cannot impose initial={initial}, dirichlet={dirichlet} exactly for this PDE "
                f"(exact constraints: {list(self.exact_constraints)})"
            )
        self._check_points(inputs)
        raw = raw.reshape(-1, 1)
        if not initial and not dirichlet:
            return raw
        base = torch.zeros_like(raw)
        factor = torch.ones_like(raw)
        if initial:
            time = self.index(self.time_variable)
            elapsed = inputs[:, time : time + 1] - float(self.bounds[time, 0])
            base = base + self._initial_value.target(inputs)
            power = 1
            if self._initial_velocity is not None:
                base = base + elapsed * self._initial_velocity.target(inputs)
                power = 2
            factor = factor * elapsed**power
        if dirichlet:
            mode = self._combined_mode if initial else self._dirichlet_mode
            factor = factor * self.boundary_distance(inputs)
            if mode == "blend":
                base = base + self._blend(inputs, initial)
        return base + factor * raw

    def boundary_distance(self, points: Array) -> Array:
        """A smooth ``(n, 1)`` factor that is 0 on every Dirichlet face and positive inside the domain.

        Bounding-box faces contribute ``2 (x - a) / L`` or ``2 (b - x) / L``; an excluded box whose faces are
        Dirichlet contributes its (smoothed) Euclidean distance, scaled by the domain size. Numpy in, numpy
        out; torch in, torch out (differentiable).
        """
        if self._dirichlet_mode is None:
            raise ValueError("this PDE has no Dirichlet condition that can be imposed exactly")
        self._check_points(points)
        lib = torch if _is_torch(points) else np
        factor = lib.ones_like(points[:, :1])
        for column, side in self._distance_planes:
            low, high = self.bounds[column]
            value = points[:, column : column + 1]
            factor = factor * (2 * ((value - low) if side == 0 else (high - value)) / (high - low))
        scale = float(np.max(self.bounds[self.domain.spatial, 1] - self.bounds[self.domain.spatial, 0])) / 2
        for box_index in self._distance_boxes:
            box = self.exclude[box_index]
            squared = lib.zeros_like(points[:, :1])
            for column in self.domain.spatial:
                low, high = box[column]
                value = points[:, column : column + 1]
                below = lib.clip(low - value, 0, None) if lib is np else torch.clamp(low - value, min=0)
                above = lib.clip(value - high, 0, None) if lib is np else torch.clamp(value - high, min=0)
                squared = squared + below**2 + above**2
            eps = 1e-3 * scale
            factor = factor * (lib.sqrt(squared + eps**2) - eps) / scale
        return factor

    def periodic_embedding(self, inputs: Array, harmonics: int = 1) -> Array:
        """Replace each periodic column ``x`` by ``cos(k w (x - low)), sin(k w (x - low))``, ``k = 1..harmonics``.

        ``w = 2 pi / period``. Any network applied to the result is exactly periodic in those directions
        (with all derivatives). The other columns follow, in their original order. Output width:
        ``d + (2 * harmonics - 1) * len(periodic)``. Numpy or torch.
        """
        if harmonics < 1:
            raise ValueError("harmonics must be >= 1")
        lib = torch if _is_torch(inputs) else np
        features = []
        for variable in self.periodic:
            column = self.index(variable)
            low = float(self.bounds[column, 0])
            omega = 2 * math.pi / self.period(variable)
            phase = (inputs[:, column : column + 1] - low) * omega
            for k in range(1, harmonics + 1):
                features += [lib.cos(k * phase), lib.sin(k * phase)]
        kept = [inputs[:, j : j + 1] for j, v in enumerate(self.variables) if v not in self.periodic]
        parts = features + kept
        return torch.cat(parts, dim=1) if lib is torch else np.concatenate(parts, axis=1)

    def _plan_exact(self) -> None:
        """Decide once which exact constraints this PDE allows, from its conditions and geometry."""
        self._initial_value = next((c for c in self.conditions if c.is_initial_value), None)
        self._initial_velocity = next((c for c in self.conditions if c.is_initial_velocity), None)
        if self._initial_value is None:
            self._initial_velocity = None  # a velocity alone is not imposed exactly
        dirichlet = [c for c in self.conditions if c.is_dirichlet]
        self._distance_planes: list[tuple[int, int]] = []
        self._distance_boxes: list[int] = []
        self._blend_column: int | None = None
        self._dirichlet_mode = self._combined_mode = None
        if not dirichlet:
            return
        faces = {(f.column, f.value, f.box) for c in dirichlet for f in c.faces}
        boxes = {box for _, _, box in faces if box is not None}
        for box in boxes:  # an excluded box is handled by its distance only if all its faces are Dirichlet
            all_faces = {(f.column, f.value, f.box) for f in self.domain.faces if f.box == box}
            if not all_faces <= faces:
                return
        self._distance_boxes = sorted(boxes)
        self._distance_planes = sorted(
            {(column, 0 if abs(value - self.bounds[column, 0]) < 1e-12 else 1) for column, value, box in faces if box is None}
        )
        columns = {column for column, _, _ in faces}
        blendable = not boxes and len(columns) == 1
        if blendable:
            self._blend_column = next(iter(columns))
        zero_data = self._dirichlet_data_vanish(dirichlet, subtract_initial=False)
        self._dirichlet_mode = "zero" if zero_data else ("blend" if blendable else None)
        if self._initial_value is not None and self.time_variable is not None:
            compatible = self._dirichlet_data_vanish(dirichlet, subtract_initial=True)
            self._combined_mode = "zero" if compatible else ("blend" if blendable else None)
        if self._dirichlet_mode is None:
            self._distance_planes, self._distance_boxes = [], []

    def _dirichlet_data_vanish(self, dirichlet: list[Condition], subtract_initial: bool) -> bool:
        probe = np.random.default_rng(2)
        for condition in dirichlet:
            points = condition.sample(128, probe)
            with np.errstate(all="ignore"):
                values = np.asarray(condition.target(points), dtype=np.float64)
                if subtract_initial:
                    values = values - self._initial_value.target(points)
                    if self._initial_velocity is not None:
                        time = self.index(self.time_variable)
                        elapsed = points[:, time : time + 1] - self.bounds[time, 0]
                        values = values - elapsed * self._initial_velocity.target(points)
            if not np.all(np.abs(values) <= 1e-12):
                return False
        return True

    def _blend(self, inputs: torch.Tensor, initial: bool) -> torch.Tensor:
        """Linear blend in the one Dirichlet direction of the data left after the initial part."""
        column = self._blend_column
        low, high = (float(v) for v in self.bounds[column])
        sides = {}
        for condition in self.conditions:
            if not condition.is_dirichlet:
                continue
            for face in condition.faces:
                side = 0 if abs(face.value - low) < 1e-12 else 1
                sides.setdefault(side, condition)
        values = {}
        for side, condition in sides.items():
            at_face = inputs.clone()
            at_face[:, column] = low if side == 0 else high
            data = condition.target(at_face)
            if initial:
                data = data - self._initial_value.target(at_face)
                if self._initial_velocity is not None:
                    time = self.index(self.time_variable)
                    elapsed = inputs[:, time : time + 1] - float(self.bounds[time, 0])
                    data = data - elapsed * self._initial_velocity.target(at_face)
            values[side] = data
        x = inputs[:, column : column + 1]
        if len(values) == 2:
            weight = (x - low) / (high - low)
            return (1 - weight) * values[0] + weight * values[1]
        return next(iter(values.values()))

    def _dirichlet_faces(self) -> list[Face]:
        faces: list[Face] = []
        for condition in self.conditions:
            if condition.is_dirichlet:
                faces += [f for f in condition.faces if f not in faces]
        return faces

    # --- serialisation ---------------------------------------------------------------------------------------
    def to_spec(self) -> dict[str, Any]:
        """The normalised spec (JSON-serialisable; variable order kept as a list); :func:`build_pde` inverts it."""
        import copy

        return copy.deepcopy(self._spec)

    def describe(self) -> str:
        """One paragraph for humans and LLMs: equation, domain, conditions."""
        domain = " x ".join(f"{v} in [{lo:.6g}, {hi:.6g}]" for v, (lo, hi) in zip(self.variables, self.bounds))
        parts = [f"{self.equation} = 0" if "=" not in self.equation else self.equation, f"domain {domain}"]
        if self.params:
            parts.append("parameters " + ", ".join(f"{k} = {v:g}" for k, v in self.params.items()))
        if self.exclude:
            boxes = []
            for box in self.exclude:
                boxes.append(" x ".join(f"{v} in [{box[self.index(v), 0]:g}, {box[self.index(v), 1]:g}]" for v in self.spatial_variables))
            parts.append("excluding " + "; ".join(boxes))
        for condition in self.conditions:
            parts.append(condition.describe())
        if self.periodic:
            parts.append(f"periodic in {', '.join(self.periodic)}")
        parts.append(f"exact constraints available: {list(self.exact_constraints)}")
        return "; ".join(parts)

    def __repr__(self) -> str:
        return f"PDE({self.equation!r}, variables={self.variables})"

    # --- helpers ---------------------------------------------------------------------------------------------
    def _columns(self, points: Array) -> dict[str, Array]:
        return {name: points[:, j : j + 1] for j, name in enumerate(self.variables)}

    def _evaluate(self, node: Node, points: Array) -> Array:
        backend = _TORCH if _is_torch(points) else _NUMPY
        if not _is_torch(points):
            points = np.asarray(points, dtype=np.float64)
        return _column(evaluate(node, backend, self._columns(points), self.params, None), points)

    def _at_initial_time(self, points: Array) -> Array:
        if self.time_variable is None:
            return points
        column = self.index(self.time_variable)
        t0 = float(self.bounds[column, 0])
        if _is_torch(points):
            mask = torch.zeros(self.dim, dtype=points.dtype, device=points.device)
            mask[column] = 1.0
            return points * (1 - mask) + t0 * mask  # keeps the graph for the space columns
        points = np.array(points, dtype=np.float64, copy=True)
        points[:, column] = t0
        return points

    def _spread_time(self, points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.time_variable is not None and len(points):
            column = self.index(self.time_variable)
            low, high = self.bounds[column]
            points[:, column] = low + (high - low) * rng.random(len(points))
        return points

    def _check_points(self, points: Array) -> None:
        if points.ndim != 2 or points.shape[1] != self.dim:
            raise ValueError(
                f"points must have shape (n, {self.dim}) with columns {self.variables}, got {tuple(points.shape)}"
            )

    def _split(self, inputs: torch.Tensor, u: torch.Tensor, need_grad: bool = True) -> torch.Tensor:
        self._check_points(inputs)
        if need_grad and not inputs.requires_grad:
            raise ValueError("inputs must have requires_grad=True and u must be computed from them")
        if u.numel() != inputs.shape[0]:
            raise ValueError(f"u must have one value per point: got {tuple(u.shape)} for {inputs.shape[0]} points")
        return u.reshape(-1, 1)


def build_pde(spec: Mapping[str, Any]) -> PDE:
    """Compile a spec (as in ``problem.yaml``'s ``pde`` or :meth:`PDE.to_spec`); bad specs raise :class:`SpecError`."""
    return PDE(spec)

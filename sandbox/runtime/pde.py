"""The PDEs of the PINN problems, as seen by a candidate (``task.pde``).

A :class:`PDE` knows its equation and everything around it that a physics-informed method needs, but nothing
about the reference solution:

* the **residual** ``N[u](inputs)`` computed with torch autograd, for any network ``u`` built from ``inputs``;
* the **domain**: ``variables`` (the column order of every point array, e.g. ``("x", "t")``) and ``bounds``
  (one ``[low, high]`` row per variable), which directions are ``periodic`` and which one is time;
* the **conditions**: ``initial_values`` and ``boundary_values`` (numpy or torch in, same type out), and
  ``boundary_distance`` (a smooth function that vanishes exactly on the Dirichlet boundary);
* **samplers** for collocation, boundary and initial points;
* ``exact_constraints``: the conditions a network can satisfy by construction instead of through a penalty.

Typical use inside ``solve(task)``::

    pde = task.pde
    x = torch.as_tensor(pde.sample_interior(4096, rng), dtype=torch.float32).requires_grad_(True)
    residual = pde.residual(x, model(x))          # (N, 1), differentiable w.r.t. the model parameters
    loss = residual.pow(2).mean() + ...

Imposing conditions exactly (the tags in ``exact_constraints``):

* ``"periodic:x"``: feed ``pde.periodic_embedding(inputs)`` to the network instead of ``inputs``; every
  function of the embedding is periodic in ``x`` with the domain's period, with all derivatives.
* ``"initial"``: ``u = pde.initial_values(x0) + (t - t0) * net(inputs)``, where ``x0`` is ``inputs`` with the
  time column set to ``t0`` (or with the time column ignored, since the initial data depend on space only).
* ``"dirichlet"``: ``u = pde.boundary_distance(inputs) * net(inputs)`` (all built-in Dirichlet data are zero).

The module depends only on the standard library, numpy and torch: inside the sandbox it is loaded as part of
its own small package.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch

Array = np.ndarray | torch.Tensor
RngLike = np.random.Generator | int | None


# ------------------------------------------------------------------------------------------------------------
# Autograd helpers
# ------------------------------------------------------------------------------------------------------------
def gradient(u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """All first partial derivatives of ``u`` (shape ``(N, 1)`` or ``(N,)``) w.r.t. ``x`` (shape ``(N, d)``).

    Returns ``(N, d)``: column ``j`` is ``du/dx_j`` at each point. The graph is kept (``create_graph=True``)
    so the result can be differentiated again (second derivatives) and back-propagated to the network's
    parameters. ``x`` must have ``requires_grad=True`` and ``u`` must have been computed from it; if ``u``
    does not depend on ``x`` at all the derivative is returned as zeros rather than raising.
    """
    if not u.requires_grad:
        return torch.zeros_like(x)
    (grad,) = torch.autograd.grad(u, x, grad_outputs=torch.ones_like(u), create_graph=True, allow_unused=True)
    return torch.zeros_like(x) if grad is None else grad


def _rng(rng: RngLike) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def _is_torch(points: Array) -> bool:
    return isinstance(points, torch.Tensor)


# ------------------------------------------------------------------------------------------------------------
# Base class
# ------------------------------------------------------------------------------------------------------------
class PDE:
    """A PDE on a box domain, with its conditions. Subclasses set the class attributes and the hooks.

    Attributes:
        name: registry name (``"convection"``, ``"burgers"``, ``"helmholtz"``, ``"allen_cahn"``).
        params: the equation's parameters, e.g. ``{"beta": 30.0}``.
        variables: names of the input columns, in order; the time variable, if any, is last.
        bounds: ``(d, 2)`` float64 array; row ``j`` is ``[low, high]`` for ``variables[j]``.
        time_variable: ``"t"`` for evolution equations, ``None`` for steady ones.
        periodic: variables in which the solution is periodic with period ``high - low``; these directions
            have no Dirichlet boundary.
        exact_constraints: tags of the conditions that can be imposed exactly (see the module docstring):
            ``"periodic:<var>"``, ``"initial"``, ``"dirichlet"``.
    """

    name: ClassVar[str] = ""
    variables: ClassVar[tuple[str, ...]] = ()
    time_variable: ClassVar[str | None] = None
    periodic: ClassVar[tuple[str, ...]] = ()
    exact_constraints: ClassVar[tuple[str, ...]] = ()
    default_params: ClassVar[dict[str, float]] = {}
    equation: ClassVar[str] = ""

    def __init__(self, **params: float) -> None:
        unknown = sorted(set(params) - set(self.default_params))
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {unknown} for PDE {self.name!r}; expected {sorted(self.default_params)}"
            )
        merged = dict(self.default_params)
        for key, value in params.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"parameter {key!r} of PDE {self.name!r} must be a number, got {value!r}")
            if not math.isfinite(float(value)):
                raise ValueError(f"parameter {key!r} of PDE {self.name!r} must be finite, got {value!r}")
            merged[key] = float(value)
        self.params: dict[str, float] = merged
        self._validate()
        self.bounds: np.ndarray = np.asarray(self._bounds(), dtype=np.float64)

    # --- hooks for subclasses ------------------------------------------------------------------------------
    def _validate(self) -> None:
        """Raise ``ValueError`` if ``self.params`` are out of range."""

    def _bounds(self) -> list[list[float]]:
        raise NotImplementedError

    def residual(self, inputs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Pointwise PDE residual, ``(N, 1)``; zero where ``u`` solves the equation.

        Args:
            inputs: ``(N, d)`` points in the column order of ``variables``, with ``requires_grad=True``.
            u: ``(N, 1)`` (or ``(N,)``) values computed *from* ``inputs`` (e.g. ``model(inputs)``), so that
                autograd can differentiate ``u`` with respect to ``inputs``.

        Works in float32 and float64 on any device; the result keeps the graph, so ``residual.pow(2).mean()``
        can be back-propagated to the network parameters.
        """
        raise NotImplementedError

    def _initial(self, space: Array) -> Array:
        raise ValueError(f"PDE {self.name!r} has no initial condition")

    # --- domain --------------------------------------------------------------------------------------------
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
            raise ValueError(
                f"{variable!r} is not periodic for PDE {self.name!r} (periodic: {self.periodic})"
            )
        low, high = self.bounds[self.index(variable)]
        return float(high - low)

    def derivative(
        self, u: torch.Tensor, inputs: torch.Tensor, variable: str, order: int = 1
    ) -> torch.Tensor:
        """``d^order u / d variable^order`` as ``(N, 1)``, by repeated autograd (graph kept)."""
        column = self.index(variable)
        out = u.reshape(-1, 1)
        for _ in range(order):
            out = gradient(out, inputs)[:, column : column + 1]
        return out

    # --- conditions ----------------------------------------------------------------------------------------
    def initial_values(self, points: Array) -> Array:
        """``u(x, t0)`` at the spatial coordinates of ``points`` (``(n, d)``; the time column is ignored).

        Returns ``(n, 1)`` of the same type as ``points``: numpy in, numpy out; torch in, torch out (same
        dtype and device, differentiable), so it can be used inside a hard-constraint ansatz.
        """
        if self.time_variable is None:
            raise ValueError(f"PDE {self.name!r} is steady: it has no initial condition")
        self._check_points(points)
        return self._initial(points[:, : self.dim - 1]).reshape(-1, 1)

    def boundary_values(self, points: Array) -> Array:
        """Dirichlet data ``g`` at boundary points ``(n, d)`` -> ``(n, 1)``, same type as ``points``.

        Only meaningful on the Dirichlet boundary (see :meth:`sample_boundary`); PDEs whose spatial
        directions are all periodic have none and accept only empty arrays here.
        """
        self._check_points(points)
        n = points.shape[0]
        if "dirichlet" not in self.exact_constraints and n:
            raise ValueError(f"PDE {self.name!r} has no Dirichlet boundary (periodic in {self.periodic})")
        if _is_torch(points):
            return torch.zeros((n, 1), dtype=points.dtype, device=points.device)
        return np.zeros((n, 1))

    def boundary_distance(self, points: Array) -> Array:
        """A smooth ``(n, 1)`` factor that is 0 on the Dirichlet boundary and positive inside.

        With zero Dirichlet data, ``u = pde.boundary_distance(x) * net(x)`` satisfies the boundary condition
        exactly. Numpy in, numpy out; torch in, torch out (differentiable). Periodic directions and time do
        not contribute.
        """
        self._check_points(points)
        if "dirichlet" not in self.exact_constraints:
            raise ValueError(f"PDE {self.name!r} has no Dirichlet boundary")
        lib = torch if _is_torch(points) else np
        factor = lib.ones_like(points[:, :1])
        for variable in self.spatial_variables:
            if variable in self.periodic:
                continue
            column = self.index(variable)
            low, high = self.bounds[column]
            value = points[:, column : column + 1]
            factor = factor * (value - low) * (high - value) / ((high - low) / 2) ** 2
        return factor

    def periodic_embedding(self, inputs: torch.Tensor, harmonics: int = 1) -> torch.Tensor:
        """Replace each periodic column ``x`` by ``cos(k w (x - low)), sin(k w (x - low))``, ``k = 1..harmonics``.

        ``w = 2 pi / period``. Any network applied to the result is exactly periodic in those directions
        (with all derivatives). The other columns are kept, in their original order, after the features.
        Output width: ``d + (2 * harmonics - 1) * len(periodic)``. Works on numpy arrays too.
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

    # --- sampling ------------------------------------------------------------------------------------------
    def sample_interior(self, n: int, rng: RngLike = None) -> np.ndarray:
        """``n`` points drawn uniformly in the domain box, ``(n, d)`` float64.

        ``rng`` is a ``numpy.random.Generator`` (recommended: ``np.random.default_rng(task.seed)``), an int
        seed, or ``None`` for fresh OS entropy (not reproducible).
        """
        generator = _rng(rng)
        low, high = self.bounds[:, 0], self.bounds[:, 1]
        return low + (high - low) * generator.random((int(n), self.dim))

    def sample_boundary(self, n: int, rng: RngLike = None) -> np.ndarray:
        """``n`` points on the Dirichlet boundary, ``(n, d)`` float64; ``(0, d)`` if there is none.

        The boundary is the set of box faces of the non-periodic spatial variables; faces are chosen with
        probability proportional to their size and points are uniform on each face (time uniform in its
        range for evolution equations).
        """
        faces = [v for v in self.spatial_variables if v not in self.periodic]
        if not faces or "dirichlet" not in self.exact_constraints:
            return np.empty((0, self.dim))
        generator = _rng(rng)
        points = self.sample_interior(n, generator)
        spans = self.bounds[:, 1] - self.bounds[:, 0]
        columns = [self.index(v) for v in faces]
        # A face orthogonal to column j has "area" prod(spans) / spans[j]; two faces per column.
        weights = np.array([1.0 / spans[j] for j in columns])
        choice = generator.choice(len(columns), size=int(n), p=weights / weights.sum())
        side = generator.integers(0, 2, size=int(n))
        for k, column in enumerate(columns):
            mask = choice == k
            points[mask, column] = self.bounds[column, side[mask]]
        return points

    def sample_initial(self, n: int, rng: RngLike = None) -> np.ndarray:
        """``n`` points at ``t = t0`` with uniform spatial coordinates, ``(n, d)``; ``(0, d)`` if steady."""
        if self.time_variable is None:
            return np.empty((0, self.dim))
        points = self.sample_interior(n, rng)
        column = self.index(self.time_variable)
        points[:, column] = self.bounds[column, 0]
        return points

    # --- serialisation -------------------------------------------------------------------------------------
    def to_spec(self) -> dict[str, Any]:
        """``{"name": ..., "params": {...}}`` (JSON-serialisable); :func:`build_pde` inverts it."""
        return {"name": self.name, "params": dict(self.params)}

    def describe(self) -> str:
        """One paragraph for humans and LLMs: equation, domain, conditions."""
        domain = " x ".join(
            f"{v} in [{lo:.6g}, {hi:.6g}]" for v, (lo, hi) in zip(self.variables, self.bounds)
        )
        return (
            f"{self.name}: {self.equation}; params {self.params}; domain {domain}; "
            f"periodic {list(self.periodic)}; exact constraints {list(self.exact_constraints)}"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.params.items())})"

    # --- helpers -------------------------------------------------------------------------------------------
    def _check_points(self, points: Array) -> None:
        if points.ndim != 2 or points.shape[1] != self.dim:
            raise ValueError(
                f"points must have shape (n, {self.dim}) with columns {self.variables}, got {tuple(points.shape)}"
            )

    def _split(self, inputs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        self._check_points(inputs)
        if not inputs.requires_grad:
            raise ValueError("inputs must have requires_grad=True and u must be computed from them")
        if u.numel() != inputs.shape[0]:
            raise ValueError(
                f"u must have one value per point: got {tuple(u.shape)} for {inputs.shape[0]} points"
            )
        return u.reshape(-1, 1)


# ------------------------------------------------------------------------------------------------------------
# Concrete equations
# ------------------------------------------------------------------------------------------------------------
class Convection1D(PDE):
    """Linear advection ``u_t + beta u_x = 0`` on ``x in [0, 2 pi]`` (periodic), ``t in [0, 1]``.

    Initial condition ``u(x, 0) = sin(x)``. For large ``beta`` (30 in the benchmark) the solution crosses
    the domain about ``beta / (2 pi)`` times, which plain PINN training is known to miss.
    """

    name = "convection"
    variables = ("x", "t")
    time_variable = "t"
    periodic = ("x",)
    exact_constraints = ("periodic:x", "initial")
    default_params: ClassVar[dict[str, float]] = {"beta": 30.0}
    equation = "u_t + beta * u_x = 0, u(x, 0) = sin(x), periodic in x"

    def _bounds(self) -> list[list[float]]:
        return [[0.0, 2 * math.pi], [0.0, 1.0]]

    def residual(self, inputs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        u = self._split(inputs, u)
        du = gradient(u, inputs)
        return du[:, 1:2] + self.params["beta"] * du[:, 0:1]

    def _initial(self, space: Array) -> Array:
        return torch.sin(space) if _is_torch(space) else np.sin(space)


class Burgers1D(PDE):
    """Viscous Burgers ``u_t + u u_x - nu u_xx = 0`` on ``x in [-1, 1]``, ``t in [0, 1]``.

    ``u(x, 0) = -sin(pi x)``, ``u(-1, t) = u(1, t) = 0``. With ``nu = 0.01 / pi`` a steep internal layer
    (a smoothed shock, width of order ``nu``) forms at ``x = 0`` around ``t = 1 / pi`` and persists.
    """

    name = "burgers"
    variables = ("x", "t")
    time_variable = "t"
    periodic = ()
    exact_constraints = ("initial", "dirichlet")
    default_params: ClassVar[dict[str, float]] = {"nu": 0.01 / math.pi}
    equation = "u_t + u * u_x - nu * u_xx = 0, u(x, 0) = -sin(pi x), u(-1, t) = u(1, t) = 0"

    def _validate(self) -> None:
        if self.params["nu"] <= 0:
            raise ValueError("nu must be positive")

    def _bounds(self) -> list[list[float]]:
        return [[-1.0, 1.0], [0.0, 1.0]]

    def residual(self, inputs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        u = self._split(inputs, u)
        du = gradient(u, inputs)
        u_x, u_t = du[:, 0:1], du[:, 1:2]
        u_xx = gradient(u_x, inputs)[:, 0:1]
        return u_t + u * u_x - self.params["nu"] * u_xx

    def _initial(self, space: Array) -> Array:
        return -torch.sin(math.pi * space) if _is_torch(space) else -np.sin(math.pi * space)


class Helmholtz2D(PDE):
    """Helmholtz ``u_xx + u_yy + k^2 u - q(x, y) = 0`` on ``[-1, 1]^2`` with ``u = 0`` on the boundary.

    The source is ``q = (k^2 - (a1 pi)^2 - (a2 pi)^2) sin(a1 pi x) sin(a2 pi y)`` (``a1 = 1``, ``a2 = 4``,
    ``k = 1`` in the benchmark; ``a1`` and ``a2`` must be integers so that the boundary data are zero).
    The oscillation in ``y`` makes the residual term much larger than the boundary term, the classic
    gradient-imbalance case for PINN training. :meth:`source` gives ``q`` at any points.
    """

    name = "helmholtz"
    variables = ("x", "y")
    time_variable = None
    periodic = ()
    exact_constraints = ("dirichlet",)
    default_params: ClassVar[dict[str, float]] = {"a1": 1.0, "a2": 4.0, "k": 1.0}
    equation = "u_xx + u_yy + k^2 u - q(x, y) = 0, u = 0 on the boundary of [-1, 1]^2"

    def _validate(self) -> None:
        for key in ("a1", "a2"):
            value = self.params[key]
            if value != round(value) or value == 0:
                raise ValueError(f"{key} must be a non-zero integer (zero boundary data), got {value}")

    def _bounds(self) -> list[list[float]]:
        return [[-1.0, 1.0], [-1.0, 1.0]]

    def source(self, points: Array) -> Array:
        """``q(x, y)`` at ``(n, 2)`` points -> ``(n, 1)``; numpy or torch, same type out."""
        self._check_points(points)
        a1, a2, k = self.params["a1"], self.params["a2"], self.params["k"]
        lib = torch if _is_torch(points) else np
        amplitude = k**2 - (a1 * math.pi) ** 2 - (a2 * math.pi) ** 2
        return amplitude * lib.sin(a1 * math.pi * points[:, 0:1]) * lib.sin(a2 * math.pi * points[:, 1:2])

    def residual(self, inputs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        u = self._split(inputs, u)
        du = gradient(u, inputs)
        u_xx = gradient(du[:, 0:1], inputs)[:, 0:1]
        u_yy = gradient(du[:, 1:2], inputs)[:, 1:2]
        return u_xx + u_yy + self.params["k"] ** 2 * u - self.source(inputs)


class AllenCahn1D(PDE):
    """Allen–Cahn ``u_t - d u_xx + rho (u^3 - u) = 0`` on ``x in [-1, 1]`` (periodic), ``t in [0, 1]``.

    ``u(x, 0) = x^2 cos(pi x)``, ``d = 1e-4`` (``diffusion``), ``rho = 5`` (``reaction``). The solution
    separates into the phases ``u = +-1`` joined by interfaces of width about ``sqrt(d / rho)``; plain PINNs
    tend to converge to a wrong, smooth solution.
    """

    name = "allen_cahn"
    variables = ("x", "t")
    time_variable = "t"
    periodic = ("x",)
    exact_constraints = ("periodic:x", "initial")
    default_params: ClassVar[dict[str, float]] = {"diffusion": 1e-4, "reaction": 5.0}
    equation = "u_t - d * u_xx + rho * (u^3 - u) = 0, u(x, 0) = x^2 cos(pi x), periodic in x"

    def _validate(self) -> None:
        if self.params["diffusion"] <= 0:
            raise ValueError("diffusion must be positive")

    def _bounds(self) -> list[list[float]]:
        return [[-1.0, 1.0], [0.0, 1.0]]

    def residual(self, inputs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        u = self._split(inputs, u)
        du = gradient(u, inputs)
        u_x, u_t = du[:, 0:1], du[:, 1:2]
        u_xx = gradient(u_x, inputs)[:, 0:1]
        return u_t - self.params["diffusion"] * u_xx + self.params["reaction"] * (u**3 - u)

    def _initial(self, space: Array) -> Array:
        lib = torch if _is_torch(space) else np
        return space**2 * lib.cos(math.pi * space)


PDES: dict[str, type[PDE]] = {cls.name: cls for cls in (Convection1D, Burgers1D, Helmholtz2D, AllenCahn1D)}


def build_pde(spec: dict[str, Any]) -> PDE:
    """Rebuild a PDE from ``{"name": ..., "params": {...}}`` (the output of :meth:`PDE.to_spec`).

    Missing params take their defaults; unknown names or params, or out-of-range values, raise ``ValueError``;
    values of the wrong type raise ``TypeError``.
    """
    if not isinstance(spec, dict) or "name" not in spec:
        raise ValueError(f"a PDE spec is a dict with 'name' and optional 'params', got {spec!r}")
    name = spec["name"]
    if name not in PDES:
        raise ValueError(f"unknown PDE {name!r}; known: {sorted(PDES)}")
    params = spec.get("params") or {}
    if not isinstance(params, dict):
        raise TypeError(f"'params' of PDE {name!r} must be a mapping, got {params!r}")
    return PDES[name](**params)

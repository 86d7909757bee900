"""Reference solution of viscous Burgers ``u_t + u u_x = nu u_xx`` with ``u0 = -sin(pi x)`` (Cole–Hopf).

The Cole–Hopf transform ``u = -2 nu (log phi)_x`` turns the equation into the heat equation for ``phi``, with
``phi0(x) = exp(-cos(pi x) / (2 pi nu))``. Convolving with the heat kernel and substituting
``eta = 2 sqrt(nu t) z`` gives, for ``t > 0``,

    u(x, t) = - E[ sin(pi y) w(y) ] / E[ w(y) ],   y = x - 2 sqrt(nu t) z,   z ~ exp(-z^2),
    w(y) = exp(-cos(pi y) / (2 pi nu)).

Both expectations are Gauss–Hermite sums. ``w`` spans ``exp(+-1 / (2 pi nu))`` (``exp(+-50)`` for the benchmark
viscosity) and is multiplied by weights as small as 1e-300, so the sums are formed in log space: each term's
log-magnitude is shifted by the per-point maximum before exponentiating (log-sum-exp), which makes overflow
and underflow of the important terms impossible. Since ``-cos(pi y)`` is 2-periodic, the solution satisfies
``u(+-1, t) = 0`` exactly (by the odd symmetry of the integrand), matching the Dirichlet condition.

:func:`burgers_trapezoid` evaluates the same integrals with the trapezoidal rule on a long, fine uniform grid
in ``z``. For an integrand that is analytic and decays like ``exp(-z^2)`` the trapezoidal rule converges
geometrically in the spacing, so it is an independent high-accuracy check of the Gauss–Hermite values.
"""

from __future__ import annotations

import numpy as np


def _ratio(
    x: np.ndarray, t: np.ndarray, nu: float, z: np.ndarray, log_w: np.ndarray, chunk: int
) -> np.ndarray:
    """``-sum(sin(pi y) e^{a}) / sum(e^{a})`` with ``a = log_w - cos(pi y) / (2 pi nu)``, chunked over points."""
    x, t = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(t, dtype=np.float64))
    shape = x.shape
    x, t = x.ravel(), t.ravel()
    out = np.empty_like(x)
    for start in range(0, len(x), chunk):
        xs, ts = x[start : start + chunk, None], t[start : start + chunk, None]
        y = xs - 2.0 * np.sqrt(nu * ts) * z[None, :]
        log_terms = log_w[None, :] - np.cos(np.pi * y) / (2.0 * np.pi * nu)
        terms = np.exp(log_terms - log_terms.max(axis=1, keepdims=True))
        out[start : start + chunk] = -(terms * np.sin(np.pi * y)).sum(axis=1) / terms.sum(axis=1)
    at_start = t == 0.0
    out[at_start] = -np.sin(np.pi * x[at_start])
    return out.reshape(shape)


def burgers_cole_hopf(
    x: np.ndarray, t: np.ndarray, nu: float, order: int = 200, chunk: int = 2048
) -> np.ndarray:
    """Cole–Hopf solution at the points ``(x, t)`` (broadcast together) by ``order``-point Gauss–Hermite."""
    nodes, weights = np.polynomial.hermite.hermgauss(order)
    return _ratio(x, t, nu, nodes, np.log(weights), chunk)


def burgers_trapezoid(
    x: np.ndarray, t: np.ndarray, nu: float, spacing: float = 0.02, half_width: float = 40.0, chunk: int = 512
) -> np.ndarray:
    """The same solution by the trapezoidal rule in ``z`` on ``[-half_width, half_width]`` (a cross-check)."""
    z = np.arange(-half_width, half_width + spacing / 2, spacing)
    return _ratio(x, t, nu, z, -(z**2), chunk)

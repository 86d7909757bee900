"""Fourth-order exponential time differencing (ETDRK4) for ``v_t = L v + N(v)`` with a diagonal ``L``.

The scheme is Cox & Matthews (J. Comput. Phys. 176, 2002). The phi-function coefficients are evaluated by
averaging over a circle of ``n_contour`` points in the complex plane around each ``h * L`` (Kassam & Trefethen,
SIAM J. Sci. Comput. 26, 2005), which avoids the cancellation that the closed-form expressions suffer for small
``h * L``. Used by the Allen-Cahn reference (:mod:`problems.solvers.allen_cahn`) and the KdV reference of the
PDE suite (``benchmarks/pde_suite/make_suite.py``), both Fourier pseudo-spectral, where ``L`` is the Fourier
symbol of the linear part and ``v`` holds Fourier coefficients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np


class Etdrk4Coefficients(NamedTuple):
    """The ETDRK4 scalars for one step size, one entry per mode (``e_half = exp(h L / 2)``, ``e_full = exp(h L)``)."""

    e_half: np.ndarray
    e_full: np.ndarray
    q: np.ndarray
    f1: np.ndarray
    f2: np.ndarray
    f3: np.ndarray


def etdrk4_coefficients(linear: np.ndarray, h: float, n_contour: int = 64) -> Etdrk4Coefficients:
    """ETDRK4 scalars for the diagonal linear operator ``linear`` and step ``h``, by contour averaging.

    For a real ``linear`` the exact coefficients are real, so only the real parts of the contour means are kept
    (their imaginary parts are rounding noise); for a complex ``linear`` the means are kept as they are.
    """
    roots = np.exp(1j * np.pi * (np.arange(1, n_contour + 1) - 0.5) / n_contour)
    z = h * linear[:, None] + roots[None, :]
    part = np.real if np.isrealobj(linear) else (lambda mean: mean)

    def average(values: np.ndarray) -> np.ndarray:
        return h * part(np.mean(values, axis=1))

    return Etdrk4Coefficients(
        e_half=np.exp(h * linear / 2),
        e_full=np.exp(h * linear),
        q=average((np.exp(z / 2) - 1) / z),
        f1=average((-4 - z + np.exp(z) * (4 - 3 * z + z**2)) / z**3),
        f2=average((2 + z + np.exp(z) * (z - 2)) / z**3),
        f3=average((-4 - 3 * z - z**2 + np.exp(z) * (4 - z)) / z**3),
    )


def etdrk4_step(
    v: np.ndarray, nonlinear: Callable[[np.ndarray], np.ndarray], coefficients: Etdrk4Coefficients
) -> np.ndarray:
    """One ETDRK4 step of ``v_t = L v + nonlinear(v)`` with the coefficients of :func:`etdrk4_coefficients`."""
    e_half, e_full, q, f1, f2, f3 = coefficients
    nv = nonlinear(v)
    a = e_half * v + q * nv
    na = nonlinear(a)
    b = e_half * v + q * na
    nb = nonlinear(b)
    c = e_half * a + q * (2 * nb - nv)
    nc = nonlinear(c)
    return e_full * v + f1 * nv + 2 * f2 * (na + nb) + f3 * nc

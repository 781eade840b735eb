r"""``lower_bounded``: ``f* = inf f > −∞``, and ``Δ0 = f(W0) − f*`` for the theorems.

* **violated** if a solver run drove ``f`` below ``f(W0) − 10¹⁰ (1 + |f(W0)|)`` (unbounded below), or if
  a sampled value falls below the problem's stated ``f_star`` (or its certified lower bound) by more than
  rounding: the stated value is wrong;
* **holds** otherwise, with ``f*`` given (exact) or estimated by the solver (an upper estimate of ``inf f``).
"""

from __future__ import annotations

import numpy as np

from verify.assumptions.adapter import Oracles
from verify.assumptions.findings import Finding, holds, unverified, violated
from verify.assumptions.landscape import Landscape

__all__ = ["check_lower_bounded"]

RTOL = 1e-9


def check_lower_bounded(orc: Oracles, land: Landscape) -> Finding:
    """``f*`` and ``Δ0`` with their source; see the module docstring."""
    method = f"f* {land.f_star_how}; f evaluated at the solver end points and {len(land.points)} region points."
    if land.unbounded is not None:
        return violated("lower_bounded", None, method, "a solver run found the witness point.", land.unbounded,
                        f"f looks unbounded below (f = {land.unbounded['f']:.3g})")
    if land.f_star is None:
        return unverified("lower_bounded", f"no value of f* ({land.no_solution})", method)
    stated = orc.f_star if orc.f_star is not None else orc.f_star_lower
    values = np.concatenate([orc.f(land.points), land.endpoint_f, [land.f0]])
    points = np.concatenate([land.points, land.endpoints, land.W0[None]])
    if stated is not None:
        k = int(np.argmin(values))
        if values[k] < stated - RTOL * (1.0 + abs(stated) + abs(land.f0)):
            return violated("lower_bounded", {"f_star": stated}, method, "certain up to floating point.",
                            {"point": points[k], "f": values[k], "stated_f_star": stated},
                            f"f = {values[k]:.6g} < stated f_star = {stated:.6g}")
    estimate = {"f_star": land.f_star, "Delta0": land.f0 - land.f_star, "f_W0": land.f0, "source": land.f_star_how}
    if orc.f_star is not None:
        return holds("lower_bounded", estimate, method, "f* is given by the problem and no sampled value is below it.",
                     f"f* = {land.f_star:.6g} (given), Delta0 = {land.f0 - land.f_star:.4g}")
    return holds("lower_bounded", estimate, method,
                 "f* is the smallest value the solver found: an upper estimate of inf f, so Delta0 may be too small; "
                 "give f_star if you know it.",
                 f"f* ~ {land.f_star:.6g} (solver), Delta0 ~ {land.f0 - land.f_star:.4g}")

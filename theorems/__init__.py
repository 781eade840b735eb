"""The theorems of Bernoulli-LoRA (arXiv 2508.03820) as sympy records.

This package imports sympy only.  ``registry()`` maps each theorem id to its :class:`Theorem`.
"""

from __future__ import annotations

from theorems import ef21, gd, marina, mvr, nonsmooth, page, qgd, sgd
from theorems.record import ASSUMPTIONS, MEASURES, OneStep, Provenance, Theorem

_MODULES = (gd, sgd, mvr, page, qgd, marina, ef21, nonsmooth)


def registry() -> dict[str, Theorem]:
    """All registered theorems, keyed by id, in the paper's order."""
    return {thm.id: thm for module in _MODULES for thm in module.THEOREMS}


__all__ = ["ASSUMPTIONS", "MEASURES", "OneStep", "Provenance", "Theorem", "registry"]

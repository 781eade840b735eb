"""The theorems of Bernoulli-LoRA (arXiv 2508.03820) as sympy records.

This package imports sympy only.  ``registry()`` maps each theorem id to its :class:`Theorem`.
"""

from __future__ import annotations

from theorems import ef21, gd, marina, mvr, nonsmooth, page, qgd, sgd
from theorems.record import ASSUMPTIONS, MEASURES, Case, OneStep, Provenance, Theorem

_MODULES = (gd, sgd, mvr, page, qgd, marina, ef21, nonsmooth)


def registry() -> dict[str, Theorem]:
    """All registered theorems, keyed by id, in the paper's order."""
    return {thm.id: thm for module in _MODULES for thm in module.THEOREMS}


def cases() -> dict[str, tuple[Case, ...]]:
    """Every theorem's check instances (each module's ``CASES``), tight one first, keyed by theorem id.

    Raises
    ------
    ValueError
        A registered theorem without an instance, or without exactly one tight instance: a theorem the suite
        cannot check is an error, not an empty run.  Also an instance of an unregistered id.
    """
    out = {tid: () for tid in registry()}
    for module in _MODULES:
        for tid, declared in getattr(module, "CASES", {}).items():
            if tid not in out:
                raise ValueError(f"module {module.__name__} declares cases for unknown theorem id {tid!r}")
            out[tid] = tuple(sorted(declared, key=lambda c: not c.tight))
    for tid, declared in out.items():
        tight = sum(c.tight for c in declared)
        if tight != 1:
            raise ValueError(f"theorem {tid!r} declares {len(declared)} check instances, {tight} of them tight; "
                             "declare its instances in CASES next to it, exactly one with tight=True")
    return out


__all__ = ["ASSUMPTIONS", "MEASURES", "Case", "OneStep", "Provenance", "Theorem", "cases", "registry"]

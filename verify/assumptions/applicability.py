"""Which theorems apply, and the constants they would use, from the assumption findings.

A theorem applies when the ``oracle`` check and every assumption in its ``assumptions`` hold, and every constant
it needs was estimated (e.g. EF21 needs ``alpha_c``, which only a contractive compressor has).  Its constants
are the problem and sketch symbols of ``theorem.symbols``; the step size ``gamma``, the horizon ``T``, the
method parameters (``q``, ``b``, ``b_prime``) and ``E0`` (which depends on how the method starts) are chosen
by the run, not by the problem, and are left out.

Conservative side: ``lambda_min_p`` is the lower end and ``lambda_max_p`` the upper end of their interval;
``omega`` / ``alpha_c`` are the compressor's closed forms.  Sampled constants that are only **lower bounds**
(``L``, ``L0``, ``Lms``, ``L_max``, ``L_tilde``, ``sigma2``) and the **upper estimate** ``mu`` are used as
sampled and flagged: a certified value should replace them before a theorem's bound is trusted.
"""

from __future__ import annotations

from collections.abc import Mapping

from theorems import Theorem
from verify.assumptions.findings import Finding

__all__ = ["FLAGS", "NOT_FROM_PROBLEM", "applicable", "theorem_constants"]

NOT_FROM_PROBLEM = frozenset({"gamma", "T", "q", "b", "b_prime", "E0"})

#: symbol -> (assumption id, key of its estimate)
SOURCES: Mapping[str, tuple[str, str]] = {
    "L": ("smooth", "L"), "mu": ("pl", "mu"), "Delta0": ("lower_bounded", "Delta0"),
    "A": ("expected_smoothness", "A"), "B": ("expected_smoothness", "B"), "C": ("expected_smoothness", "C"),
    "sigma2": ("bounded_variance", "sigma2"), "Lms": ("mean_square_smooth", "Lms"),
    "M": ("federated", "M"), "L_max": ("federated", "L_max"), "L_tilde": ("federated", "L_tilde"),
    "Delta_inf": ("federated", "Delta_inf"), "omega": ("compressor", "omega"), "alpha_c": ("compressor", "alpha_c"),
    "L0": ("lipschitz", "L0"), "R0": ("convex", "R0"),
}

#: How each estimated symbol relates to the true constant.
FLAGS: Mapping[str, str] = {
    "L": "lower bound", "L0": "lower bound", "Lms": "lower bound", "L_max": "lower bound", "L_tilde": "lower bound",
    "sigma2": "lower bound", "mu": "upper estimate", "Delta0": "estimate", "A": "fitted", "C": "fitted",
    "Delta_inf": "estimate", "R0": "estimate (distance to the best point found)",
    "lambda_min_p": "conservative (interval lower end)", "lambda_max_p": "conservative (interval upper end)",
    "omega": "closed form", "alpha_c": "closed form", "B": "exact", "M": "exact",
}


def applicable(theorems: Mapping[str, Theorem], findings: Mapping[str, Finding]) -> list[str]:
    """Ids of the theorems whose assumptions (and the oracle check) all hold and whose constants are all known."""
    ok = {name for name, f in findings.items() if f.status == "holds"}
    return [tid for tid, thm in theorems.items() if "oracle" in ok and set(thm.assumptions) <= ok
            and None not in theorem_constants(thm, findings).values()]


def _value(symbol: str, findings: Mapping[str, Finding]) -> float | None:
    if symbol in ("lambda_min_p", "lambda_max_p"):
        est = findings["positive_expected_projection"].estimate or {}
        return (est.get("conservative") or {}).get(symbol)
    if symbol not in SOURCES:
        return None
    name, key = SOURCES[symbol]
    est = findings[name].estimate if name in findings else None
    value = None if est is None else est.get(key)
    return None if value is None else float(value)


def theorem_constants(thm: Theorem, findings: Mapping[str, Finding]) -> dict[str, float | None]:
    """``{symbol: value}`` for the problem and sketch symbols of ``thm`` (None if nothing estimated it)."""
    symbols = sorted(s.name for s in thm.symbols if s.name not in NOT_FROM_PROBLEM)
    return {s: _value(s, findings) for s in symbols}

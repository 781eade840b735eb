r"""Test your own theorem with pytest: a failing test, with the plot's path, when the bound breaks.

A theorist writes a :class:`~theorems.Theorem` record (or copies one and edits a constant) in their own
module and asserts that it holds::

    from dataclasses import replace
    import theorems
    from theorems.symbols import Delta0, T, gamma, lambda_min_p
    from verify.testing import assert_bound_holds

    MINE = replace(theorems.registry()["gd-nc"], id="my-gd-nc", bound=1.5 * Delta0 / (gamma * lambda_min_p * T))

    def test_my_bound(tmp_path):
        assert_bound_holds(MINE, out=tmp_path, problem="isotropic-quadratic", iters=20)

or, with the pytest plugin :mod:`verify.pytest_plugin`, ``def test_x(verify_check): verify_check(MINE, ...)``.

A theorem that is not registered in :func:`theorems.registry` is prepared by :func:`prepare_theorem`:
the problem, sketch, estimator and λ constants come from :func:`verify.check.prepare` on a registered
theorem with the same estimator; then the user's theorem gets its own constants
(:func:`verify.constants.theorem_constants`), its own ``γ_max`` and its own stepsize condition.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

import theorems
from theorems import Theorem
from verify import report, symbolic
from verify.check import CheckResult, CheckSpec, Prepared, execute, prepare
from verify.constants import theorem_constants
from verify.errors import UserError, require
from verify.measures import NEEDS_EXACT_F_STAR
from verify.seeding import task_seed
from verify.stepsizes import ConstantStep

LAMBDA_KEYS = ("lambda_min_p", "lambda_max_p")


def _template(thm: Theorem) -> str:
    """A registered theorem with the same estimator and a constant stepsize, to prepare the run with."""
    require(thm.stepsize_rule == "constant",
            f"theorem {thm.id!r}: only constant-stepsize theorems can be checked unregistered "
            f"(got stepsize rule {thm.stepsize_rule!r})")
    for known in theorems.registry().values():
        if known.estimator == thm.estimator and known.stepsize_rule == "constant":
            return known.id
    raise UserError(f"theorem {thm.id!r}: no registered theorem uses estimator {thm.estimator!r}")


def prepare_theorem(thm: Theorem, spec: CheckSpec) -> Prepared:
    """:func:`verify.check.prepare` for a :class:`Theorem` object that need not be registered.

    Parameters
    ----------
    thm : Theorem
        The theorem to check; its ``estimator`` must be one a registered theorem uses, and its stepsize
        rule ``"constant"``.
    spec : CheckSpec
        The run; ``spec.theorem`` is ignored (replaced by ``thm.id``).

    Returns
    -------
    Prepared
        With ``thm``'s constants, ``gamma = spec.gamma_factor · γ_max(thm)`` and whether ``thm``'s stepsize
        condition holds.

    Raises
    ------
    UserError
        As :func:`verify.check.prepare`; also when γ violates ``thm``'s stepsize condition and
        ``spec.outside_conditions`` is not set.
    """
    spec = replace(spec, theorem=thm.id)
    registered = theorems.registry().get(thm.id)
    if registered is thm:
        return prepare(spec)
    base = prepare(replace(spec, theorem=_template(thm), outside_conditions=True))
    rng = np.random.default_rng(task_seed(0, "constants|" + spec.key()))
    lam = {k: base.constants[k] for k in LAMBDA_KEYS}
    consts = theorem_constants(thm, base.problem, base.estimator, lam, spec.iters, rng)
    f_star = base.problem.constants["f_star"]
    require(thm.measure not in NEEDS_EXACT_F_STAR or f_star.kind == "exact",
            f"theorem {thm.id!r} bounds {thm.measure}, which needs the exact f^*; problem {base.problem.name!r} "
            f"certifies only a lower bound")
    values = {k: v.value for k, v in consts.items()} | {"T": spec.iters}
    if not base.applicable:
        values["lambda_min_p"] = values["lambda_max_p"]
    gamma_max = symbolic.gamma_max_value(thm, values)
    require(gamma_max is not None and np.isfinite(gamma_max),
            f"theorem {thm.id!r} gives no finite stepsize bound for these constants ({gamma_max})")
    gamma = spec.gamma_factor * gamma_max
    ok = symbolic.stepsize_satisfied(thm, {**values, "gamma": gamma})
    require(ok or spec.outside_conditions,
            f"gamma = {gamma:.6g} (factor {spec.gamma_factor}) violates the stepsize condition of {thm.id!r} "
            f"(gamma_max = {gamma_max:.6g}); pass outside_conditions=True to run it anyway")
    return replace(base, spec=spec, theorem=thm, stepsize=ConstantStep(gamma), constants=consts, gamma=gamma,
                   gamma_max=gamma_max, conditions_met=ok and base.applicable)


def run_theorem_check(theorem: Theorem | str, out: Path, seed: int = 0, alpha: float = 1e-3,
                      **spec_kwargs: Any) -> tuple[CheckResult, Path | None]:
    """Run one check of ``theorem`` (an id or a :class:`Theorem`) and draw its plot in ``out``.

    ``spec_kwargs`` are the fields of :class:`~verify.check.CheckSpec` (``problem``, ``sketch``, ``p``,
    ``r``, ``runs``, ``iters``, ``gamma_factor``, ``params`` as a dict or pairs, ...).  Returns the result
    and the plot's path (None without matplotlib).
    """
    if "params" in spec_kwargs and isinstance(spec_kwargs["params"], dict):
        spec_kwargs["params"] = tuple(sorted(spec_kwargs["params"].items()))
    thm_id = theorem if isinstance(theorem, str) else theorem.id
    spec = CheckSpec(theorem=thm_id, **spec_kwargs)
    prep = prepare(spec) if isinstance(theorem, str) else prepare_theorem(theorem, spec)
    res = execute(prep, seed, alpha)
    out = Path(out)
    report.ensure_writable(out)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return res, None
    path = out / f"{report.check_name(res)}.png"
    report.plot_check(res, path)
    return res, path


def failure_message(res: CheckResult, plot: Path | None) -> str:
    """What a failing test says: theorem, verdict, reason, slack, stepsize and the plot's path."""
    slack = "n/a" if res.slack is None else f"{res.slack:.4g} (bound/observed mean, at T = {res.slack_T})"
    lemma = "" if res.lemma is None or "verdict" not in res.lemma else f"; one-step check: {res.lemma['verdict']}"
    where = str(plot) if plot is not None else "not drawn (no matplotlib)"
    return (f"theorem {res.theorem!r} on {res.problem} ({res.sketch} sketch, p={res.p}, r={res.r}, "
            f"{res.seeds} runs x {res.iters} steps): verdict {report.verdict_label(res)}: {res.reason}; "
            f"slack {slack}; gamma {res.gamma}{lemma}; plot: {where}")


def assert_bound_holds(theorem: Theorem | str, *, out: Path, seed: int = 0, alpha: float = 1e-3,
                       **spec_kwargs: Any) -> CheckResult:
    """Run the check and raise ``AssertionError`` when its verdict is ``violated``.

    The verdict is ``violated`` when the observed mean is above the bound with confidence, when a run
    diverges, or when the one-step inequality of the proof fails (:func:`verify.check.execute`).  The
    message contains the verdict, the slack and the plot's path; ``holds``, ``inconclusive`` and
    ``not_applicable`` pass (the result is returned for further assertions).

    Parameters
    ----------
    theorem : Theorem or str
        A registered id or a :class:`Theorem` record (see :func:`prepare_theorem`).
    out : Path
        Folder for the plot (e.g. pytest's ``tmp_path``).
    seed, alpha : int, float
        Root seed and false-alarm level of this check.
    **spec_kwargs
        Fields of :class:`~verify.check.CheckSpec`.
    """
    __tracebackhide__ = True  # pytest shows the failing test's line, not this helper's
    res, plot = run_theorem_check(theorem, out, seed=seed, alpha=alpha, **spec_kwargs)
    if res.verdict == "violated":
        raise AssertionError(failure_message(res, plot))
    return res

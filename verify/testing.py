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

A theorem that is not registered in :func:`theorems.registry` is prepared by :func:`prepare_theorem`,
which is :func:`verify.check.prepare` with the record itself: the user's theorem supplies its own
estimator, constants, ``γ_max``, stepsize condition and stepsize rule.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from theorems import Theorem
from verify import report, wording
from verify.check import CheckResult, CheckSpec, Prepared, execute, prepare


def prepare_theorem(thm: Theorem, spec: CheckSpec) -> Prepared:
    """:func:`verify.check.prepare` for a :class:`Theorem` object that need not be registered.

    Parameters
    ----------
    thm : Theorem
        The theorem to check; its ``estimator`` must be a known one (``verify.estimators``).
    spec : CheckSpec
        The run; ``spec.theorem`` is ignored (replaced by ``thm.id``).

    Returns
    -------
    Prepared
        With ``thm``'s constants, its stepsize (``gamma = spec.gamma_factor · γ_max(thm)`` for a constant
        rule) and whether ``thm``'s stepsize condition holds.

    Raises
    ------
    UserError
        As :func:`verify.check.prepare`; also when γ violates ``thm``'s stepsize condition and
        ``spec.outside_conditions`` is not set.
    """
    return prepare(replace(spec, theorem=thm.id), theorem=thm)


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
    path = out / f"{wording.check_name(res)}.png"
    report.plot_check(res, path)
    return res, path


def failure_message(res: CheckResult, plot: Path | None) -> str:
    """What a failing test says: theorem, verdict, reason, slack, stepsize and the plot's path."""
    slack = "n/a" if res.slack is None else f"{res.slack:.4g} (bound/observed mean, at T = {res.slack_T})"
    status, _ = wording.lemma_status(res.lemma)
    lemma = "" if status == "–" else f"; one-step check: {wording.lemma_text(res)}"
    where = str(plot) if plot is not None else "not drawn (no matplotlib)"
    return (f"theorem {res.theorem!r} on {res.problem} ({res.sketch} sketch, p={res.p}, r={res.r}, "
            f"{res.seeds} runs x {res.iters} steps): verdict {wording.verdict_label(res)}: {res.reason}; "
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

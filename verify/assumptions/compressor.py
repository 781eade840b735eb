r"""``compressor``: Monte-Carlo ``ω`` (unbiased class ``U(ω)``) or ``α`` (contractive class ``B(α)``) at ``d = m·n``.

Test matrices ``X``: Gaussian, all-equal magnitudes (random signs; the worst case of top-k), one-hot, and
a geometric profile.  For each ``X``, ``S`` independent draws ``Q(X)``:

* unbiased class: per-entry two-sided t-tests of ``E Q(X) = X`` (Bonferroni over entries and matrices), and
  the ratio ``E‖Q(X) − X‖²/‖X‖²`` with a one-sided lower bound; **violated** if the lower bound exceeds the
  closed-form ``ω`` (or a mean test fails);
* contractive class: ``E‖C(X) − X‖²/‖X‖²``; **violated** if its lower bound exceeds ``1 − α``.

The constant reported for the theorems is the closed form (a certified bound from
:mod:`verify.compressors`), next to the largest sampled ratio.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from verify.assumptions.findings import Budget, Finding, holds, unverified, violated
from verify.compressors import Compressor

__all__ = ["check_compressor", "test_matrices"]

RTOL = 1e-9


def test_matrices(shape: tuple[int, int], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Named ``(m, n)`` test matrices."""
    d = shape[0] * shape[1]
    one_hot = np.zeros(d)
    one_hot[rng.integers(d)] = 1.0
    return {
        "gaussian": rng.standard_normal(shape),
        "equal_magnitudes": rng.choice([-1.0, 1.0], size=shape),
        "one_hot": one_hot.reshape(shape),
        "geometric": (0.7 ** np.arange(d) * rng.choice([-1.0, 1.0], size=d)).reshape(shape),
    }


def _ratio_bounds(R: np.ndarray, level: float) -> tuple[float, float, float]:
    mean, sd = float(R.mean()), float(R.std(ddof=1))
    half = float(sps.t.ppf(1 - level, df=len(R) - 1)) * sd / np.sqrt(len(R))
    return mean, mean - half, mean + half


def _bias(Q: np.ndarray, X: np.ndarray, crit: float) -> dict | None:
    mean, sd = Q.mean(axis=0), Q.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(sd > 0, (mean - X) / (sd / np.sqrt(len(Q))),
                     np.where(np.abs(mean - X) > RTOL * (1 + np.abs(X)), np.inf, 0.0))
    j = np.unravel_index(int(np.argmax(np.abs(t))), t.shape)
    if abs(t[j]) <= crit:
        return None
    return {"entry": [int(j[0]), int(j[1])], "X_entry": float(X[j]), "mean_Q_entry": float(mean[j]),
            "t_statistic": float(t[j]), "critical_value": crit}


def check_compressor(comp: Compressor | None, shape: tuple[int, int], rng: np.random.Generator,
                     budget: Budget) -> Finding:
    """Monte-Carlo ``ω`` / ``α`` against the closed form; unverified without ``--compressor``."""
    if comp is None:
        return unverified("compressor", "no compressor given (use --compressor SPEC, e.g. rand-k:k=4)")
    d = shape[0] * shape[1]
    comp.validate(d)
    S = budget.compressor_samples
    mats = test_matrices(shape, rng)
    level = budget.alpha / (2 * len(mats))
    crit = float(sps.t.ppf(1 - budget.alpha / (2 * d * len(mats)), df=S - 1))
    estimate: dict[str, object] = {"d": d}
    ratios = {}
    for name, X in mats.items():
        Q = comp.compress(np.broadcast_to(X, (S, *shape)).copy(), rng)
        ratios[name] = _ratio_bounds(np.sum((Q - X) ** 2, axis=(1, 2)) / np.sum(X**2), level)
        if comp.unbiased:
            bias = _bias(Q, X, crit)
            if bias is not None:
                return violated("compressor", estimate, f"{S} draws of Q(X) per test matrix.",
                                f"family-wise level {budget.alpha:g} (Student-t).", {"X": name, "matrix": X, **bias},
                                f"{comp.name} is biased: E Q(X) != X")
    worst = max(ratios, key=lambda k: ratios[k][0])
    estimate["sampled_ratio_max"] = ratios[worst][0]
    estimate["sampled_ratio_ci"] = [ratios[worst][1], ratios[worst][2]]
    estimate["ratio_by_matrix"] = {k: v[0] for k, v in ratios.items()}
    bounds = {}
    if comp.unbiased:
        bounds["omega"] = comp.omega(d)
    if comp.contractive:
        bounds["alpha_c"] = comp.alpha(d)
    estimate.update(bounds)
    method = (f"{S} draws of Q(X) for each of {len(mats)} test matrices ({', '.join(mats)}) at d = {d}: "
              "E||Q(X) - X||^2 / ||X||^2 with one-sided t bounds" + ("; per-entry t-tests of E Q(X) = X"
                                                                       if comp.unbiased else ""))
    limits = []
    if comp.unbiased:
        limits.append(("omega", bounds["omega"]))
    if comp.contractive:
        limits.append(("1 - alpha", 1.0 - bounds["alpha_c"]))
    for label, limit in limits:
        name = max(ratios, key=lambda k: ratios[k][1])
        if ratios[name][1] > limit * (1 + RTOL) + RTOL:
            return violated("compressor", estimate, method + ".",
                            f"family-wise level {budget.alpha:g} (Student-t): the lower bound on the ratio exceeds "
                            f"the closed form.", {"X": name, "matrix": mats[name], "ratio_mean_lower_upper":
                                                  list(ratios[name]), "closed_form": {label: limit}},
                            f"{comp.name}: E||Q(X) - X||^2/||X||^2 above {label} = {limit:.4g}")
    closed = ", ".join(f"{k} = {v:.4g}" for k, v in bounds.items())
    return holds("compressor", estimate, method + ".",
                 f"the sampled ratios are consistent with the closed form at family-wise level {budget.alpha:g}; "
                 "the closed form is the constant to use.",
                 f"{comp.name}: {closed} (closed form); largest sampled ratio {ratios[worst][0]:.4g}")

#!/usr/bin/env python
r"""A mutation catalog of the package and the script that measures which checks catch each mutant
(project issue 12, item 6).

Each mutant is one small, realistic bug, written as data (:class:`Mutant`): an id, a class, the file, the
exact old text, the new text and one sentence saying why the bug is realistic.  A mutant is applied by
string replacement to a copy of the package, and the old text must occur **exactly once** in its file
(:func:`apply_mutant` raises otherwise), so a refactor that moves or rewrites the code makes the catalog fail
loudly (``tests/test_mutants.py``) instead of silently testing nothing.

Usage (from the repository root)::

    python benchmarks/mutants.py                       # the whole catalog against the built-in suite
    python benchmarks/mutants.py --only coin-1-p gd-pl-rate-2x --jobs 2
    python benchmarks/mutants.py --quick               # the quick suite (tight instances, 64 runs)
    python benchmarks/mutants.py --ref HEAD --jobs 2   # a commit instead of the working tree
    python benchmarks/mutants.py --list                # the catalog, one line per mutant

The script first takes one snapshot of ``verify/``, ``theorems/`` and ``pyproject.toml``: of the working tree,
or with ``--ref REV`` of that commit (``git archive``), so that edits made while the catalog runs change
nothing.  For every run (the unmutated package first, then one run per mutant) it copies the snapshot into a
temporary directory, applies the mutant there and runs, in a subprocess with a timeout, with ``PYTHONPATH``
and the working directory pointing at the copy (a probe checks that the copy is what gets imported):

* ``python -m verify.cli run --out DIR --seed S`` (the default built-in suite; exit 1 = a check is
  violated), or with ``--quick`` ``python -m verify.reference --out DIR`` (every theorem's tight instance
  with 64 runs, root seed 0);
* the project's exact checks (``verify/exact/``: exact expectation, two-sided model check, one-step
  certificate) are picked up from ``DIR/results.json`` when ``verify run`` reports them in its check records
  (an ``exact`` record, or any field whose name contains ``model`` with a ``verdict``); nothing else is run
  for them.  The output says for how many checks of the baseline run a model check was reported.

A mutant is **caught** when some check of its run detects it (:func:`signals` says how: ``bound`` = a
lower confidence bound above the theorem's bound, ``one-step`` = the Monte-Carlo one-step inequality,
``divergence`` = a non-finite run inside the theorem's conditions, ``exact-bound``, ``model``,
``certificate`` = the exact checks), or when the mutated suite itself fails (``error``: an exit status other
than 0 and 1, a failed task, a missing ``results.json``, a package that does not import; counted as caught,
because CI would fail, but shown apart).  A run that exceeds ``--timeout`` is ``timeout`` and counts as
missed.  The unmutated package must be clean (exit 0, nothing detected) or the script stops with exit
status 2.  Every run uses the same root seed (``--seed``, default 0), so the table is reproducible.  Plots
are not drawn (matplotlib is hidden from the subprocess; they take half of a run's time and never change a
verdict) unless ``--plots`` is given.

Output: a table on stdout (mutant, class, caught?, by which checks) and the line ``caught K of N (P %)``;
``OUT/mutants.md`` (the same table in Markdown, with date, commit and wall time) and ``OUT/mutants.json``.
Exit status 0 when the catalog ran (whatever it caught), 2 on bad input or an unclean baseline.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
#: What is copied for a run: the two packages and the project file.
PACKAGE = ("verify", "theorems", "pyproject.toml")
#: The classes of the catalog, in table order.
CLASSES = ("sides/coins", "estimator", "compressor", "constants", "measures", "stepsizes", "theorems")
#: Verdicts of a model-check record that mean the runs disagree with the exact expectation.
MODEL_FLAGS = {"too_fast", "too_slow", "too_fast_and_slow", "violated"}
DEFAULT_TIMEOUT = 1800.0


@dataclass(frozen=True)
class Mutant:
    """One bug: replace ``old`` (which must occur exactly once in ``file``) by ``new``."""

    id: str
    category: str
    file: str
    old: str
    new: str
    why: str


M = Mutant
CATALOG: tuple[Mutant, ...] = (
    # ------------------------------------------------------------------ sides and coins
    M("coin-1-p", "sides/coins", "verify/projection.py",
      "        return rng.random(R) < self.p\n",
      "        return rng.random(R) < 1 - self.p\n",
      "p is the probability of the LEFT sketch; reading it as the probability of the right one is an easy slip."),
    M("sides-swapped", "sides/coins", "verify/projection.py",
      "        left = np.asarray(self.coins(rng, R), dtype=bool)\n",
      "        left = ~np.asarray(self.coins(rng, R), dtype=bool)\n",
      "The runs whose coin is 1 get the right sketch (H_A) and the others the left one: B and A swapped."),
    M("right-unprojected", "sides/coins", "verify/projection.py",
      "        out[~draw.left] = project_right(draw.Q_A, G[~draw.left])\n",
      "        out[~draw.left] = G[~draw.left]\n",
      "The right-sketch branch forgets G H_A and steps along the full G, as an unfinished refactor would."),
    M("coin-shared", "sides/coins", "verify/projection.py",
      "        return rng.random(R) < self.p\n",
      "        return np.full(R, rng.random() < self.p)\n",
      "One Bernoulli draw per step shared by all runs (a scalar coin broadcast) instead of one per run."),
    # ------------------------------------------------------------------ estimator corrections
    M("page-coin-1-q", "estimator", "verify/estimators.py",
      "        lazy = ~_coin(rng, W_new.shape[0], self.q)\n        if lazy.any():\n            xi = ",
      "        lazy = _coin(rng, W_new.shape[0], self.q)\n        if lazy.any():\n            xi = ",
      "PAGE takes the full gradient with probability 1 - q: the negation of the coin is dropped."),
    M("marina-coin-1-q", "estimator", "verify/estimators.py",
      "        lazy = ~_coin(rng, W_new.shape[0], self.q)\n        if lazy.any():\n            G[lazy] = G_old",
      "        lazy = _coin(rng, W_new.shape[0], self.q)\n        if lazy.any():\n            G[lazy] = G_old",
      "MARINA takes the full gradient with probability 1 - q: the negation of the coin is dropped."),
    M("page-no-correction", "estimator", "verify/estimators.py",
      "G[lazy] = state[lazy] + problem.stochastic_grad(W_new[lazy], xi) - problem.stochastic_grad(W_old[lazy], xi)",
      "G[lazy] = state[lazy]",
      "PAGE's lazy branch keeps G^t without adding the minibatch gradient difference (a stale estimator)."),
    M("mvr-momentum-b", "estimator", "verify/estimators.py",
      "return problem.stochastic_grad(W_new, xi) + (1.0 - self.b) * (state - problem.stochastic_grad(W_old, xi))",
      "return problem.stochastic_grad(W_new, xi) + self.b * (state - problem.stochastic_grad(W_old, xi))",
      "MVR's momentum written b instead of 1 - b (papers differ on which of the two they call b)."),
    M("mvr-momentum-1", "estimator", "verify/estimators.py",
      "return problem.stochastic_grad(W_new, xi) + (1.0 - self.b) * (state - problem.stochastic_grad(W_old, xi))",
      "return problem.stochastic_grad(W_new, xi) + 1.0 * (state - problem.stochastic_grad(W_old, xi))",
      "MVR's momentum factor (1 - b) replaced by 1: the STORM correction without its decay (b = 0)."),
    M("ef21-no-feedback", "estimator", "verify/estimators.py",
      "return g + self.compressor.compress(cg_new - g, rng), cg_new",
      "return self.compressor.compress(cg_new, rng), cg_new",
      "EF21 without error feedback: each client compresses its gradient instead of the difference to g_i."),
    M("sgd-batch-off-by-one", "estimator", "verify/estimators.py",
      "problem.sample_xi(rng, W.shape[0], self.batch))",
      "problem.sample_xi(rng, W.shape[0], self.batch + 1))",
      "SGD draws batch + 1 samples while the constants divide the variance by batch (an off-by-one)."),
    M("ls-minibatch-mean-off-by-one", "estimator", "verify/problems/least_squares.py",
      "return Xb.transpose(0, 2, 1) @ (Xb @ W - self.Y[idx]) / idx.shape[1]",
      "return Xb.transpose(0, 2, 1) @ (Xb @ W - self.Y[idx]) / (idx.shape[1] + 1)",
      "The least-squares minibatch average divides by batch + 1, so the stochastic gradient is biased."),
    # ------------------------------------------------------------------ compressor scaling, omega and alpha
    M("randk-no-scaling", "compressor", "verify/compressors.py",
      "out[rows, keep] = x[rows, keep] * (d / k if scale else 1.0)",
      "out[rows, keep] = x[rows, keep]",
      "rand-k keeps its k entries without the d/k scaling that makes it unbiased."),
    M("randk-omega-halved", "compressor", "verify/compressors.py",
      "        return d / self.k - 1.0\n",
      "        return (d / self.k - 1.0) / 2\n",
      "rand-k's omega halved in the constants (a factor 1/2 copied from a variance identity)."),
    M("randk-biased", "compressor", "verify/compressors.py",
      "keep = np.argpartition(rng.random(x.shape), k - 1, axis=1)[:, :k]",
      "keep = np.argpartition(rng.random(x.shape), k - 1, axis=1)[:, :k - 1]",
      "rand-k keeps k - 1 entries but scales by d/k (an off-by-one in the slice), so E Q(x) = (k-1)/k x."),
    M("topk-alpha-doubled", "compressor", "verify/compressors.py",
      '        """``k/d``."""\n        self.validate(d)\n        return self.k / d\n',
      '        """``k/d``."""\n        self.validate(d)\n        return 2 * self.k / d\n',
      "top-k's contraction constant alpha doubled: the compressor is claimed twice as accurate as it is."),
    M("dither-omega-wrong", "compressor", "verify/compressors.py",
      "return min(d / self.s**2, math.sqrt(d) / self.s)",
      "return min(d / self.s**2, math.sqrt(d) / self.s**2)",
      "QSGD's variance bound with s^2 in both branches of the min (the sqrt(d)/s branch mistyped)."),
    # ------------------------------------------------------------------ certified constants
    M("L-second-eigenvalue", "constants", "verify/problems/least_squares.py",
      '"L": Constant(float(s[0]),',
      '"L": Constant(float(s[1]),',
      "L read from the wrong end of a sorted spectrum: the second-largest eigenvalue instead of the largest."),
    M("Ltilde-mean", "constants", "verify/problems/federated_ls.py",
      '"L_tilde": Constant(float(np.sqrt(np.mean(np.square(L_i)))),',
      '"L_tilde": Constant(float(np.mean(L_i)),',
      "L-tilde computed as the mean of the L_i instead of their root mean square."),
    M("mu-2x-least-squares", "constants", "verify/problems/least_squares.py",
      '"mu": Constant(float(s[-1]),',
      '"mu": Constant(2 * float(s[-1]),',
      "The PL constant of least squares too large by 2 (mu confused with the strong-convexity 2 mu of f/2)."),
    M("mu-2x-federated", "constants", "verify/problems/federated_ls.py",
      '"mu": Constant(float(eig[0]),',
      '"mu": Constant(2 * float(eig[0]),',
      "The PL constant of federated least squares too large by 2."),
    # (The objectives compute f = f* + a quadratic form from the same f_star variable, so a bug in that
    # variable shifts f and f* together and changes nothing; these two mutate the certified constant alone.)
    M("fstar-without-heterogeneity", "constants", "verify/problems/federated_ls.py",
      '"f_star": Constant(f_star, "closed form: (1/M) sum_i f_i* + Delta_inf"),',
      '"f_star": Constant(f_star - Delta_inf, "closed form: (1/M) sum_i f_i* + Delta_inf"),',
      "The certified f* is the mean of the clients' minima, forgetting Delta_inf: f* shifted down."),
    M("fstar-least-squares-no-half", "constants", "verify/problems/least_squares.py",
      '"f_star": Constant(f_star, "closed form: residual of the least-squares solution, "',
      '"f_star": Constant(2 * f_star, "closed form: residual of the least-squares solution, "',
      "The certified f* is the residual without the 1/2 of ||XW - Y||^2/(2N): f* shifted up by a factor 2."),
    M("sigma2-halved", "constants", "verify/problems/stochastic.py",
      "    sigma2 = sigma**2 * m * n\n",
      "    sigma2 = sigma**2 * m * n / 2\n",
      "The additive-noise variance halved (a 1/2 from a Gaussian density slipped into E||xi||^2)."),
    M("mvr-E0-zero", "constants", "verify/constants.py",
      'return ConstantValue(s2 / batch0, f"sigma2/batch0 with batch0 = {batch0}")',
      'return ConstantValue(0.0, f"sigma2/batch0 with batch0 = {batch0}")',
      "MVR's initial error E0 set to 0 as if G^0 were the full gradient (it is a minibatch)."),
    M("lambda-mc-estimate", "constants", "verify/check.py",
      '"lambda_min_p": ConstantValue(est.lambda_min_p.lower, how),',
      '"lambda_min_p": ConstantValue(est.lambda_min_p.estimate, how),',
      "The Monte-Carlo lambda_min^p used at its point estimate instead of the interval's conservative end."),
    M("lambda-m-n-swapped", "constants", "verify/projection.py",
      "        eig_B = self.left.expected_projection_eigs(m, self.r) if p > 0 else (0.0, 0.0)\n"
      "        eig_A = self.right.expected_projection_eigs(n, self.r) if p < 1 else (0.0, 0.0)\n",
      "        eig_B = self.left.expected_projection_eigs(n, self.r) if p > 0 else (0.0, 0.0)\n"
      "        eig_A = self.right.expected_projection_eigs(m, self.r) if p < 1 else (0.0, 0.0)\n",
      "lambda^p = p r/n + (1-p) r/m: the left sketch lives in R^m and the right one in R^n, easily swapped."),
    # ------------------------------------------------------------------ measures
    M("avg-grad-sq-off-by-one", "measures", "verify/measures.py",
      "np.cumsum(trace.grad_sq[:, :-1], axis=1)[:, T_points - 1] / T_points",
      "np.cumsum(trace.grad_sq, axis=1)[:, T_points] / T_points",
      "The average of ||grad f||^2 sums t = 0..T' (T'+1 terms) and divides by T': an inclusive range."),
    M("weighted-avg-wrong-weights", "measures", "verify/measures.py",
      "w = np.exp(-(t + 1) * np.log(a) + np.log(a))",
      "w = np.exp((t + 1) * np.log(a) - np.log(a))",
      "The weights w_t = a^(t+1) instead of a^-(t+1): the sign of the exponent flipped."),
    M("avg-iterate-includes-last", "measures", "verify/runner.py",
      "problem.f(W_sum / t)",
      "problem.f((W_sum + W) / (t + 1))",
      "The average iterate includes W^T: (1/(T+1)) sum_{t<=T} W^t instead of (1/T) sum_{t<T} W^t."),
    M("gap-best-is-last", "measures", "verify/measures.py",
      "return np.minimum.accumulate(trace.f[:, :-1], axis=1)[:, T_points - 1] - f_star",
      "return trace.f[:, T_points] - f_star",
      "The best-iterate gap computed at the last iterate (the min over t forgotten)."),
    # ------------------------------------------------------------------ stepsizes
    M("gd-gamma-max-1.5x", "stepsizes", "theorems/gd.py",
      "_STEPSIZE = (sp.Le(gamma, 1 / L),)",
      "_STEPSIZE = (sp.Le(gamma, sp.Rational(3, 2) / L),)",
      "GD's stepsize condition gamma <= 1.5/L: gamma_max 1.5x too large (the descent lemma needs 1/L)."),
    M("step-1.5x", "stepsizes", "verify/stepsizes.py",
      "        return float(self.gamma)\n",
      "        return 1.5 * float(self.gamma)\n",
      "The constant rule steps 1.5x further than the gamma the bound is evaluated at."),
    M("polyak-inverted", "stepsizes", "verify/stepsizes.py",
      "gamma = np.divide(self.ratio * gap, g2, out=np.zeros_like(gap), where=g2 > 0)",
      "gamma = np.divide(self.ratio * g2, gap, out=np.zeros_like(gap), where=gap > 0)",
      "The Polyak step inverted: ||G||^2/(f - f*) instead of (f - f*)/||G||^2."),
    M("polyak-lambda-ratio-inverted", "stepsizes", "verify/check.py",
      'ratio = spec.gamma_factor * values["lambda_min_p"] / values["lambda_max_p"]',
      'ratio = spec.gamma_factor * values["lambda_max_p"] / values["lambda_min_p"]',
      "The Polyak ratio lambda_max^p/lambda_min^p instead of lambda_min^p/lambda_max^p."),
    # ------------------------------------------------------------------ theorems: a factor 2 in each rate and constant
    M("gd-pl-rate-2x", "theorems", "theorems/gd.py",
      "bound=(1 - gamma * mu * lambda_min_p) ** T * Delta0,",
      "bound=(1 - 2 * gamma * mu * lambda_min_p) ** T * Delta0,",
      "gd-pl: mu -> 2 mu in the PL contraction (the PL inequality with and without its 1/2)."),
    M("gd-nc-constant-halved", "theorems", "theorems/gd.py",
      "bound=2 * Delta0 / (gamma * lambda_min_p * T),",
      "bound=Delta0 / (gamma * lambda_min_p * T),",
      "gd-nc: the bound halved (the 2 of the descent lemma's gamma/2 lost)."),
    M("sgd-pl-rate-2x", "theorems", "theorems/builders.py",
      "    rho = 1 - gamma * mu * lambda_min_p / 2\n",
      "    rho = 1 - gamma * mu * lambda_min_p\n",
      "sgd-pl and qgd-pl (shared builder): GD's PL rate instead of the halved one the SGD proof gives."),
    M("sgd-nc-noise-halved", "theorems", "theorems/builders.py",
      "        bound=2 * a_nc**T * Delta0 / (gamma * lambda_min_p * T) + 2 * d / (gamma * lambda_min_p),\n",
      "        bound=2 * a_nc**T * Delta0 / (gamma * lambda_min_p * T) + d / (gamma * lambda_min_p),\n",
      "sgd-nc and qgd-nc (shared builder): the noise term of the bound halved."),
    M("qgd-rate-A-halved", "theorems", "theorems/qgd.py",
      "QGD_ABC = {A: omega * L_max / M, B: 1, C: 2 * omega * L_max * Delta_inf / M}",
      "QGD_ABC = {A: omega * L_max / (2 * M), B: 1, C: 2 * omega * L_max * Delta_inf / M}",
      "qgd: A halved, which enters the growth (1 + L gamma^2 lambda A)^T and the PL stepsize: the rate."),
    M("qgd-constant-C-halved", "theorems", "theorems/qgd.py",
      "QGD_ABC = {A: omega * L_max / M, B: 1, C: 2 * omega * L_max * Delta_inf / M}",
      "QGD_ABC = {A: omega * L_max / M, B: 1, C: omega * L_max * Delta_inf / M}",
      "qgd: C without the 2 of ||grad f_i||^2 <= 2 L_i (f_i - f_i*): the heterogeneity constant halved."),
    M("vr-pl-rate-2x", "theorems", "theorems/builders.py",
      "    rho = 1 - gamma * mu * lambda_min_p\n",
      "    rho = 1 - 2 * gamma * mu * lambda_min_p\n",
      "page-pl, mvr-pl, marina-pl, ef21-pl (shared builder): mu -> 2 mu in the PL contraction."),
    M("vr-nc-constant-halved", "theorems", "theorems/builders.py",
      "    bound_nc = 2 * phi0_nc / (gamma * lambda_min_p * T) + 2 * d_nc / (gamma * lambda_min_p)\n",
      "    bound_nc = phi0_nc / (gamma * lambda_min_p * T) + 2 * d_nc / (gamma * lambda_min_p)\n",
      "page-nc, mvr-nc, marina-nc, ef21-nc (shared builder): the 1/T term of the bound halved."),
    M("mvr-rate-2x", "theorems", "theorems/mvr.py",
      "error=MVR_ERROR, kappa=b,",
      "error=MVR_ERROR, kappa=2 * b,",
      "mvr: the error contracts at 2b instead of b (1 - (1-b)^2 ~ 2b read as the rate)."),
    M("mvr-constant-halved", "theorems", "theorems/mvr.py",
      "noise=2 * b**2 * sigma2,",
      "noise=b**2 * sigma2,",
      "mvr: the noise constant 2 b^2 sigma^2 of Young's inequality without its 2."),
    M("page-rate-2x", "theorems", "theorems/page.py",
      "error=PAGE_ERROR, kappa=q,",
      "error=PAGE_ERROR, kappa=2 * q,",
      "page: the error contraction q doubled."),
    M("page-constant-halved", "theorems", "theorems/page.py",
      "K_root=Lms * sp.sqrt((1 - q) / b_prime),",
      "K_root=Lms * sp.sqrt((1 - q) / (2 * b_prime)),",
      "page: the variance constant L^2/b' halved (a minibatch of b' counted twice)."),
    M("marina-rate-2x", "theorems", "theorems/marina.py",
      "error=MARINA_ERROR, kappa=q,",
      "error=MARINA_ERROR, kappa=2 * q,",
      "marina: the error contraction q doubled."),
    M("marina-constant-halved", "theorems", "theorems/marina.py",
      "K_root=L_tilde * sp.sqrt((1 - q) * omega / M),",
      "K_root=L_tilde * sp.sqrt((1 - q) * omega / (2 * M)),",
      "marina: the compression constant omega L-tilde^2/M halved."),
    M("ef21-rate-2x", "theorems", "theorems/ef21.py",
      "error=EF21_ERROR, kappa=theta,",
      "error=EF21_ERROR, kappa=2 * theta,",
      "ef21: the contraction theta doubled (1 - sqrt(1 - alpha) confused with 1 - (1 - alpha))."),
    M("ef21-constant-halved", "theorems", "theorems/ef21.py",
      "K_root=L_tilde * sp.sqrt(beta),",
      "K_root=L_tilde * sp.sqrt(beta / 2),",
      "ef21: beta halved in the stepsize and the Lyapunov weight."),
    M("ns-const-rate-2x", "theorems", "theorems/nonsmooth.py",
      "_bound_const = R0**2 / (2 * gamma * lambda_min_p * T) + gamma * L0**2 * lambda_max_p / (2 * lambda_min_p)",
      "_bound_const = R0**2 / (4 * gamma * lambda_min_p * T) + gamma * L0**2 * lambda_max_p / (2 * lambda_min_p)",
      "ns-const: the 1/T term halved (the distance recursion's 2 gamma counted twice)."),
    M("ns-const-constant-halved", "theorems", "theorems/nonsmooth.py",
      "_bound_const = R0**2 / (2 * gamma * lambda_min_p * T) + gamma * L0**2 * lambda_max_p / (2 * lambda_min_p)",
      "_bound_const = R0**2 / (2 * gamma * lambda_min_p * T) + gamma * L0**2 * lambda_max_p / (4 * lambda_min_p)",
      "ns-const: the gamma L0^2 term halved."),
    M("ns-polyak-rate-2x", "theorems", "theorems/nonsmooth.py",
      "a=sp.Integer(1), c=_ratio / L0**2,",
      "a=sp.Integer(1), c=2 * _ratio / L0**2,",
      "ns-polyak: the one-step decrease (f - f*)^2 lambda_min/(lambda_max L0^2) claimed twice as large."),
    M("ns-polyak-constant-halved", "theorems", "theorems/nonsmooth.py",
      "_bound_polyak = L0 * R0 * sp.sqrt(lambda_max_p) / (lambda_min_p * sp.sqrt(T))",
      "_bound_polyak = L0 * R0 * sp.sqrt(lambda_max_p) / (2 * lambda_min_p * sp.sqrt(T))",
      "ns-polyak: the bound halved."),
)
del M


class CatalogError(Exception):
    """A mutant that cannot be applied (its old text does not occur exactly once), or bad input."""


def by_id(ids: Sequence[str] = ()) -> list[Mutant]:
    """The mutants named ``ids`` in catalog order (all of them when empty); CatalogError on an unknown id."""
    if not ids:
        return list(CATALOG)
    known = {m.id for m in CATALOG}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise CatalogError(f"unknown mutant id(s) {', '.join(unknown)}; --list shows the catalog")
    wanted = set(ids)
    return [m for m in CATALOG if m.id in wanted]


def occurrences(mutant: Mutant, root: Path = REPO) -> int:
    """How often ``mutant.old`` occurs in ``root / mutant.file`` (0 if the file is missing)."""
    path = Path(root) / mutant.file
    return path.read_text(encoding="utf-8").count(mutant.old) if path.is_file() else 0


def apply_mutant(mutant: Mutant, root: Path) -> Path:
    """Replace ``mutant.old`` by ``mutant.new`` in ``root / mutant.file``; returns the file.

    Raises CatalogError unless the old text occurs exactly once (a missing file counts as 0).
    """
    path = Path(root) / mutant.file
    count = occurrences(mutant, root)
    if count != 1:
        raise CatalogError(f"mutant {mutant.id}: its old text occurs {count} times in {mutant.file} (need exactly 1); "
                           "the code moved or changed, update the catalog")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(mutant.old, mutant.new, 1), encoding="utf-8")
    return path


def copy_package(dst: Path, src: Path = REPO) -> Path:
    """Copy ``verify/``, ``theorems/`` and ``pyproject.toml`` of ``src`` into ``dst`` (no caches); returns dst."""
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    for name in PACKAGE:
        s = Path(src) / name
        if s.is_dir():
            shutil.copytree(s, dst / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), dirs_exist_ok=True)
        else:
            shutil.copy2(s, dst / name)
    return dst


def _hide_matplotlib(base: Path) -> Path:
    """A folder whose ``matplotlib`` package raises ImportError, to put first on PYTHONPATH."""
    shim = Path(base) / "no-plots"
    (shim / "matplotlib").mkdir(parents=True, exist_ok=True)
    (shim / "matplotlib" / "__init__.py").write_text(
        'raise ImportError("matplotlib hidden by benchmarks/mutants.py: plots are not drawn")\n', encoding="utf-8")
    return shim


# ----------------------------------------------------------------------------------------------------
# Running the suite on a copy
# ----------------------------------------------------------------------------------------------------


@dataclass
class SuiteRun:
    """One run of the suite on one copy of the package."""

    returncode: int | None
    wall_s: float
    records: list[dict[str, Any]] | None
    error: str = ""
    stdout_tail: str = ""


def suite_command(out: Path, seed: int, quick: bool) -> list[str]:
    """The command line run inside the copy."""
    if quick:
        return [sys.executable, "-m", "verify.reference", "--out", str(out)]
    return [sys.executable, "-m", "verify.cli", "run", "--out", str(out), "--seed", str(seed)]


def _tail(text: str, lines: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def run_suite(pkg: Path, out: Path, *, seed: int = 0, quick: bool = False, timeout: float = DEFAULT_TIMEOUT,
              plots: bool = False) -> SuiteRun:
    """Run the suite on the package copy ``pkg`` (a subprocess, cwd and PYTHONPATH = ``pkg``), results in ``out``.

    Before the run, a one-line import in the same environment checks that ``verify`` and ``theorems`` are
    imported from the copy (never from an installed or editable package), else the run is an error.
    """
    pkg = Path(pkg).resolve()
    paths = [str(pkg)] if plots else [str(_hide_matplotlib(pkg.parent)), str(pkg)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "PYTHONDONTWRITEBYTECODE": "1",
           "MPLBACKEND": "Agg"}
    probe = subprocess.run([sys.executable, "-c", "import verify, theorems; print(verify.__file__); "
                            "print(theorems.__file__)"], cwd=pkg, env=env, capture_output=True, text=True,
                           timeout=timeout)
    if probe.returncode != 0:  # the (mutated) package does not even import
        return SuiteRun(None, 0.0, None, f"import failed: {_tail(probe.stderr)}")
    where = probe.stdout.split()
    if len(where) != 2 or not all(Path(w).resolve().is_relative_to(pkg) for w in where):
        raise CatalogError(f"the copy in {pkg} is not what the subprocess imports ({probe.stdout.strip()!r}); "
                           "the results would not test the mutant")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(suite_command(out, seed, quick), cwd=pkg, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return SuiteRun(None, time.perf_counter() - t0, None, f"timeout after {timeout:g} s")
    wall = time.perf_counter() - t0
    results = Path(out) / "results.json"
    records = None
    error = ""
    if results.is_file():
        try:
            records = json.loads(results.read_text(encoding="utf-8"))["checks"]
        except (OSError, ValueError, KeyError) as exc:
            error = f"results.json unreadable: {exc}"
    if proc.returncode not in (0, 1):
        error = f"exit status {proc.returncode}: {_tail(proc.stderr)}"
    elif records is None and not error:
        error = f"exit status {proc.returncode} and no results.json: {_tail(proc.stderr)}"
    elif "tasks failed" in proc.stdout:
        error = _tail(proc.stdout, 2)
    return SuiteRun(proc.returncode, wall, records, error, _tail(proc.stdout, 2))


def check_label(rec: dict[str, Any]) -> str:
    """``theorem/problem`` plus the sketch when it is not Gaussian: short, and unique in the built-in suite."""
    label = f"{rec['theorem']}/{rec['problem']}"
    return label if rec.get("sketch") == "gaussian" else f"{label}/{rec.get('sketch')}"


def model_verdicts(rec: dict[str, Any]) -> dict[str, str]:
    """The verdicts of the model-check fields of a record: every dict under a key containing ``model``, at the
    top level or one level down (e.g. ``exact.model``), that has a string ``verdict``."""
    out = {}
    for key, value in rec.items():
        if not isinstance(value, dict):
            continue
        if "model" in key and isinstance(value.get("verdict"), str):
            out[key] = value["verdict"]
        for sub, inner in value.items():
            if "model" in sub and isinstance(inner, dict) and isinstance(inner.get("verdict"), str):
                out[f"{key}.{sub}"] = inner["verdict"]
    return out


#: Reasons of a violated verdict that are not the statistical bound test.
_NOT_BOUND = ("one-step inequality", "the exact expectation", "model check", "divergence", "certified constant")


def signals(rec: dict[str, Any]) -> list[str]:
    """How a check record detects a fault, in this order (empty: it does not):

    ``divergence`` (a non-finite run), ``bound`` (the lower confidence bound above the theorem's bound),
    ``one-step`` (the Monte-Carlo one-step check violated), ``exact-bound`` (the exact expectation above
    the bound), ``model`` (the two-sided model check flags the runs), ``certificate`` (the exact one-step
    certificate fails), ``audit`` (a certified constant contradicted by its witness, :mod:`verify.audit`),
    ``other`` (violated for a reason not recognised here).
    """
    hows = []
    violated = rec.get("verdict") == "violated"
    reason = str(rec.get("reason") or "")
    lemma = rec.get("lemma") if isinstance(rec.get("lemma"), dict) else {}
    exact = rec.get("exact") if isinstance(rec.get("exact"), dict) else {}
    if violated and rec.get("diverged_at") is not None:
        hows.append("divergence")
    elif violated and not reason.startswith(_NOT_BOUND):
        hows.append("bound")
    if lemma.get("verdict") == "violated":
        hows.append("one-step")
    slack = exact.get("slack")
    if reason.startswith("the exact expectation") or (isinstance(slack, (int, float)) and slack < 1 - 1e-6):
        hows.append("exact-bound")
    if any(v in MODEL_FLAGS for v in model_verdicts(rec).values()):
        hows.append("model")
    cert = exact.get("certificate") if isinstance(exact.get("certificate"), dict) else {}
    if cert.get("holds") is False:
        hows.append("certificate")
    audit = rec.get("audit") if isinstance(rec.get("audit"), dict) else {}
    if any(it.get("holds") is False for it in audit.get("items", [])):
        hows.append("audit")
    if violated and not hows:
        hows.append("other")
    return hows


def detections(records: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """``(check, how)`` for every check that detects something, ``how`` = its :func:`signals` joined by ``+``."""
    return [(check_label(rec), "+".join(hows)) for rec in records if (hows := signals(rec))]


def model_checked(records: Sequence[dict[str, Any]] | None) -> int:
    """How many checks of a run carry a model-check verdict (the exact two-sided check ran on them)."""
    return sum(bool(model_verdicts(rec)) for rec in records or ())


# ----------------------------------------------------------------------------------------------------
# The catalog
# ----------------------------------------------------------------------------------------------------


@dataclass
class MutantResult:
    """What one mutant's run found."""

    id: str
    category: str
    file: str
    status: str  # caught | missed | error | timeout
    caught_by: list[tuple[str, str]] = field(default_factory=list)
    error: str = ""
    wall_s: float = 0.0

    @property
    def caught(self) -> bool:
        return self.status in ("caught", "error")

    def by_text(self) -> str:
        if self.status == "error":
            return f"error: {self.error}"
        if self.status == "timeout":
            return self.error
        return ", ".join(f"{check} [{how}]" for check, how in self.caught_by) or "–"


@dataclass
class CatalogRun:
    """The baseline and every mutant's result."""

    results: list[MutantResult]
    baseline_wall_s: float
    wall_s: float
    quick: bool
    seed: int
    commit: str
    date: str
    model_checks: int
    checks: int

    @property
    def caught(self) -> int:
        return sum(r.caught for r in self.results)

    def summary(self) -> str:
        n = len(self.results)
        errors = sum(r.status == "error" for r in self.results)
        extra = f"; {errors} of them by an error of the mutated suite" if errors else ""
        return f"caught {self.caught} of {n} ({100 * self.caught / max(n, 1):.0f} %){extra}"


def _run_mutant(mutant: Mutant | None, source: Path, work: Path, *, seed: int, quick: bool, timeout: float,
                plots: bool) -> SuiteRun:
    """Copy the package snapshot ``source`` into ``work``, apply ``mutant`` (None: the unmutated package) and
    run the suite."""
    pkg = copy_package(Path(work) / "pkg", src=source)
    if mutant is not None:
        apply_mutant(mutant, pkg)
    return run_suite(pkg, Path(work) / "out", seed=seed, quick=quick, timeout=timeout, plots=plots)


def classify(mutant: Mutant, run: SuiteRun) -> MutantResult:
    """The mutant's status from its run."""
    res = MutantResult(mutant.id, mutant.category, mutant.file, "missed", wall_s=run.wall_s)
    if run.error.startswith("timeout"):
        res.status, res.error = "timeout", run.error
        return res
    if run.records is not None:
        res.caught_by = detections(run.records)
    if run.error:
        res.status, res.error = "error", run.error
    elif res.caught_by:
        res.status = "caught"
    return res


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, timeout=120)


def snapshot(dst: Path, ref: str | None = None) -> tuple[Path, str]:
    """Copy the package once into ``dst``: the working tree (``ref`` None) or the commit ``ref``.

    Every run of a catalog copies this snapshot, so edits made to the checkout while the catalog runs change
    nothing.  Returns the snapshot and the commit it stands for (``git describe --dirty`` for the working tree).
    """
    dst = Path(dst)
    if ref is None:
        copy_package(dst)
        described = _git("describe", "--always", "--dirty", "--abbrev=12")
        return dst, described.stdout.decode().strip() or "unknown"
    rev = _git("rev-parse", "--verify", "--short=12", f"{ref}^{{commit}}")
    if rev.returncode != 0:
        raise CatalogError(f"--ref {ref}: not a commit of {REPO}")
    archive = _git("archive", "--format=tar", ref, *PACKAGE)
    if archive.returncode != 0:
        raise CatalogError(f"--ref {ref}: git archive failed: {archive.stderr.decode().strip()}")
    dst.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dst, filter="data")
    return dst, rev.stdout.decode().strip()


def run_catalog(mutants: Sequence[Mutant], *, jobs: int = 1, quick: bool = False, seed: int = 0,
                timeout: float = DEFAULT_TIMEOUT, plots: bool = False, keep: Path | None = None,
                ref: str | None = None, progress: Callable[[str], None] | None = None) -> CatalogRun:
    """Snapshot the package (the working tree, or commit ``ref``), run it unmutated (it must be clean, else
    CatalogError), then every mutant, ``jobs`` at a time."""
    say = progress or (lambda line: None)
    t_start = time.perf_counter()
    base = Path(keep) if keep is not None else Path(tempfile.mkdtemp(prefix="mutants-"))
    try:
        source, commit = snapshot(base / "source", ref)
        for m in mutants:  # fail before any work if a mutant no longer applies
            if occurrences(m, source) != 1:
                raise CatalogError(f"mutant {m.id}: its old text occurs {occurrences(m, source)} times in {m.file} "
                                   "(need exactly 1); update the catalog")
        say(f"baseline: the unmutated package at {commit} ({'quick suite' if quick else 'built-in suite'}, "
            f"seed {seed})")
        baseline = _run_mutant(None, source, base / "baseline", seed=seed, quick=quick, timeout=timeout, plots=plots)
        found = detections(baseline.records or [])
        if baseline.error or baseline.returncode != 0 or found:
            why = baseline.error or "; ".join(f"{c} [{h}]" for c, h in found) or f"exit {baseline.returncode}"
            raise CatalogError(f"the unmutated package is not clean, so mutants cannot be judged: {why}")
        say(f"baseline clean: {len(baseline.records)} checks, no violation ({baseline.wall_s:.0f} s)")
        model = model_checked(baseline.records)
        results: dict[str, MutantResult] = {}

        def one(m: Mutant) -> MutantResult:
            try:
                run = _run_mutant(m, source, base / m.id, seed=seed, quick=quick, timeout=timeout, plots=plots)
                return classify(m, run)
            finally:
                if keep is None:
                    shutil.rmtree(base / m.id, ignore_errors=True)

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {pool.submit(one, m): m for m in mutants}
            for i, fut in enumerate(as_completed(futures), 1):
                res = fut.result()
                results[res.id] = res
                say(f"[{i}/{len(mutants)}] {res.id}: {res.status} ({res.wall_s:.0f} s) {res.by_text()}")
        return CatalogRun([results[m.id] for m in mutants], baseline.wall_s, time.perf_counter() - t_start, quick,
                          seed, commit, datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), model,
                          len(baseline.records))
    finally:
        if keep is None:
            shutil.rmtree(base, ignore_errors=True)


# ----------------------------------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------------------------------


def _yes(res: MutantResult) -> str:
    return {"caught": "yes", "error": "yes (error)", "missed": "**no**", "timeout": "**no** (timeout)"}[res.status]


def markdown(run: CatalogRun) -> str:
    """The Markdown table of a catalog run, with its summary line and metadata."""
    what = ("quick suite (`python -m verify.reference`)" if run.quick
            else f"built-in suite (`verify run --seed {run.seed}`)")
    model = (f"{run.model_checks} of the {run.checks} checks carry an exact model check, which counts"
             if run.model_checks else "`verify run` reports no model checks, so only its own verdicts count")
    lines = [
        f"Run {run.date}, commit `{run.commit}`, {what}, {run.checks} checks per run; {model}.  "
        f"Wall time {run.wall_s / 60:.1f} min (baseline run {run.baseline_wall_s:.0f} s).",
        "",
        "| mutant | class | caught? | by which checks |",
        "|---|---|---|---|",
    ]
    for r in run.results:
        lines.append(f"| `{r.id}` | {r.category} | {_yes(r)} | {r.by_text().replace('|', '/')} |")
    lines += ["", f"**{run.summary()}**"]
    missed = [r.id for r in run.results if not r.caught]
    if missed:
        lines.append("")
        lines.append("Missed: " + ", ".join(f"`{i}`" for i in missed) + ".")
    return "\n".join(lines) + "\n"


def text_table(run: CatalogRun) -> str:
    """The table for a terminal."""
    w = max(len(r.id) for r in run.results)
    c = max(len(r.category) for r in run.results)
    lines = [f"{'mutant':<{w}}  {'class':<{c}}  {'caught?':<13}  by which checks", "-" * (w + c + 40)]
    for r in run.results:
        lines.append(f"{r.id:<{w}}  {r.category:<{c}}  {_yes(r).replace('*', ''):<13}  {r.by_text()}")
    return "\n".join(lines)


def write_outputs(run: CatalogRun, out: Path) -> None:
    """``out/mutants.md`` and ``out/mutants.json``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "mutants.md").write_text(markdown(run), encoding="utf-8")
    data = {k: v for k, v in asdict(run).items() if k != "results"}
    data["summary"] = run.summary()
    data["caught"] = run.caught
    data["total"] = len(run.results)
    data["results"] = [asdict(r) | {"caught": r.caught} for r in run.results]
    (out / "mutants.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/mutants.py", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=[], metavar="ID", help="run these mutants only")
    parser.add_argument("--jobs", type=int, default=1, metavar="N", help="mutants run at once (default 1)")
    parser.add_argument("--quick", action="store_true",
                        help="the quick suite (every tight instance, 64 runs) instead of the built-in suite")
    parser.add_argument("--seed", type=int, default=0, help="root seed of every run (default 0)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per run (default 1800)")
    parser.add_argument("--plots", action="store_true", help="let the runs draw their plots (slower)")
    parser.add_argument("--out", default="mutants-report", help="folder for mutants.md and mutants.json")
    parser.add_argument("--ref", metavar="REV",
                        help="test this commit (git archive of verify/, theorems/, pyproject.toml) instead of the "
                             "working tree")
    parser.add_argument("--keep", metavar="DIR", help="keep every copy and its report under DIR")
    parser.add_argument("--list", action="store_true", help="print the catalog and exit")
    args = parser.parse_args(argv)
    try:
        mutants = by_id(args.only)
        if args.list:
            for m in mutants:
                print(f"{m.id:<30} {m.category:<12} {m.file:<34} {m.why}")
            return 0
        if args.jobs < 1 or args.timeout <= 0:
            raise CatalogError("--jobs must be >= 1 and --timeout > 0")
        if args.quick and args.seed != 0:
            raise CatalogError("--quick runs the quick suite, whose root seed is fixed at 0")
        run = run_catalog(mutants, jobs=args.jobs, quick=args.quick, seed=args.seed, timeout=args.timeout,
                          plots=args.plots, keep=Path(args.keep) if args.keep else None, ref=args.ref,
                          progress=lambda line: print(line, file=sys.stderr, flush=True))
    except CatalogError as exc:
        print(f"mutants: error: {exc}", file=sys.stderr)
        return 2
    print(text_table(run))
    print()
    print(markdown(run))
    print(run.summary())
    write_outputs(run, Path(args.out))
    print(f"written: {Path(args.out) / 'mutants.md'}, {Path(args.out) / 'mutants.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

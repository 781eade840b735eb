r"""Theorems 1 and 2 along a real fine-tuning run, with trajectory-local constants.

Problem.  The pre-trained network of :mod:`verify.networks.finetune` first gets a *new head*: its output
layer (weights and bias) is fitted to digits 5–9 by full-batch gradient descent, every other parameter
frozen.  Then ``f(W)`` is the mean cross-entropy on the fine-tuning training set as a function of the
**second hidden layer's** weight ``W ∈ R^{64×64}`` (head and first layer frozen; a hidden ReLU layer, so
``f`` is non-convex and only piecewise smooth).

Runs.  ``R`` runs of Bernoulli-LoRA with a fresh rank-1 Gaussian sketch every step (Algorithm 1:
``W^{t+1} = W^t − γ H_B ∇f`` with probability ``p``, else ``W^t − γ ∇f H_A``), one ``SeedSequence`` child per run:
full-batch gradients (Bernoulli-LoRA-GD, Theorem 1) and minibatch gradients of ``batch`` examples drawn
with replacement (Bernoulli-LoRA-SGD, Theorem 2).

Trajectory-local constants (on run 0's GD trajectory at ``points`` iterates, plus all runs where cheap):

* local ``L``: the largest ``|eigenvalue|`` of ``∇²f`` by power iteration (``iters`` steps) with Hessian-vector
  products from *central differences of exact gradients* (:func:`verify.networks.mlp.hvp`), at the iterates
  and at the midpoints of the segments between consecutive checkpoints; and the secant ratio
  ``‖∇f(W^{t+1}) − ∇f(W^t)‖ / ‖W^{t+1} − W^t‖`` of every step of every run (a lower bound of the Lipschitz
  constant of ``∇f`` on that segment, which also sees the gradient's jumps at ReLU kinks);
* the PŁ ratio ``‖∇f(W)‖² / (2(f(W) − f_low))`` at every step of every run;
* the minibatch gradient variance ``σ²(W) = E‖g − ∇f‖² = (1/b)·mean_i ‖∇f_i(W) − ∇f(W)‖²`` (sampling with
  replacement) from per-example gradients at the checkpoints;
* ``λ_min^p`` and ``λ_max^p`` of the Gaussian sketch from the closed form
  (:meth:`verify.projection.BernoulliProjector.lambda_closed_form`: ``p r/m + (1 − p) r/n``).

``f*`` estimate.  ``f_low`` = the smallest loss seen: over every iterate of every run and a long reference
run of plain gradient descent on ``W``.  ``f_low ≥ inf f``, so ``Δ0 = f(W^0) − f_low`` is at most the true
``Δ0`` and the bounds evaluated with it are at most the true bounds: *holds* with ``f_low`` implies holds with
the true ``f*``.  (The PŁ ratio with ``f_low`` is an over-estimate of the one with ``f*``.)

The bounds come from :mod:`theorems` (``gd-nc``, ``sgd-nc``), evaluated by :mod:`verify.symbolic` with the
local constants (``L`` = the largest local estimate; ``A = 0, B = 1, C = max σ²`` for Theorem 2); the
observed measure ``(1/T) Σ_{t<T} ‖∇f(W^t)‖²`` (Theorem 2's weights are uniform at ``A = 0``) is compared
with them by the suite's confidence bounds (:func:`verify.stats.mean_bounds`, :func:`verify.stats.decide`).
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import theorems
from verify import stats, symbolic
from verify.errors import require
from verify.networks import mlp
from verify.projection import BernoulliProjector, orthonormal_basis, project_left, project_right
from verify.sketch import Gaussian

__all__ = ["TheoryConfig", "TheoryResult", "power_iteration", "run_theory", "write_theory"]

_SKETCH = Gaussian()


@dataclass(frozen=True)
class TheoryConfig:
    """Settings of the theorem check (defaults: the committed report)."""

    p: float = 0.5
    r: int = 1
    steps: int = 200
    head_steps: int = 300
    head_gamma: float = 0.5
    batch: int = 64
    points: int = 12
    iters: int = 20
    reference_steps: int = 2000
    alpha: float = 1e-3


@dataclass(frozen=True)
class Check:
    """One theorem evaluated with local constants: bound and observed mean with confidence bounds at ``T``."""

    theorem: str
    values: dict[str, float]
    stepsize_ok: bool
    T: np.ndarray
    bound: np.ndarray
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    verdict: str
    reason: str
    slack: float


@dataclass(frozen=True, eq=False)
class TheoryResult:
    """Local constants along the path and the two checks.

    ``steps_at`` ``(P,)``: the checkpoints of run 0; ``L_at``, ``L_mid`` ``(P,)`` / ``(P−1,)``: power-iteration
    ``|λ|max`` at the iterates and at the segment midpoints; ``secant_max`` ``(T,)``: the largest secant ratio
    over runs per step; ``pl_min`` ``(T,)``: the smallest PŁ ratio over runs per step; ``sigma2`` ``(P,)``.
    """

    config: TheoryConfig
    runs: int
    gamma: float
    L0: float
    f0: float
    f_low: float
    lambda_p: tuple[float, float]
    steps_at: np.ndarray
    L_at: np.ndarray
    L_mid: np.ndarray
    secant_max: np.ndarray
    pl_min: np.ndarray
    sigma2: np.ndarray
    checks: tuple[Check, ...]
    seconds: float

    @property
    def L_local(self) -> float:
        """The largest local smoothness estimate along the path (iterates, midpoints, secants)."""
        return float(max(self.L_at.max(), self.L_mid.max(), self.secant_max.max()))

    def verdict_line(self) -> str:
        parts = [f"{c.theorem}: {c.verdict} (slack {c.slack:.3g}, stepsize condition with local L "
                 f"{'met' if c.stepsize_ok else 'NOT met'})" for c in self.checks]
        return (f"theorems on the network: gamma = {self.gamma:.4g}, L at W0 = {self.L0:.4g}, local L along the path "
                f"up to {self.L_local:.4g}; " + "; ".join(parts))


def power_iteration(grad, W: np.ndarray, rng: np.random.Generator, iters: int) -> float:
    r"""``|λ|max(∇²f(W))`` by ``iters`` steps of power iteration ``V ← HV/‖HV‖`` from a Gaussian start, with
    ``HV`` from :func:`verify.networks.mlp.hvp`; returns the last ``‖HV‖`` (``V`` of unit norm), a lower
    estimate of the spectral norm that converges to it."""
    V = rng.standard_normal(W.shape)
    V /= np.linalg.norm(V)
    est = 0.0
    for _ in range(iters):
        HV = mlp.hvp(grad, W, V, eps=1e-4)
        est = float(np.linalg.norm(HV))
        if est == 0.0:
            return 0.0
        V = HV / est
    return est


def _new_head(params0: mlp.Params, H: np.ndarray, y: np.ndarray, cfg: TheoryConfig) -> mlp.Params:
    """The sub-network (second hidden layer, output layer) on first-layer features ``H`` with its output layer
    fitted by ``head_steps`` full-batch GD steps."""
    sub = mlp.copy_params(params0[1:])
    for _ in range(cfg.head_steps):
        _, g = mlp.loss_and_grads(sub, H, y)
        sub[-1] = (sub[-1][0] - cfg.head_gamma * g[-1][0], sub[-1][1] - cfg.head_gamma * g[-1][1])
    return sub


def _bernoulli_step(W: np.ndarray, G: np.ndarray, gamma: float, p: float, r: int,
                    gens: list[np.random.Generator]) -> np.ndarray:
    """One Bernoulli-LoRA step for stacked ``W, G`` ``(R, m, n)``: per run a coin and a Gaussian sketch."""
    R, m, n = W.shape
    left = np.array([g.random() < p for g in gens])
    S = [_SKETCH.sample(g, 1, m if c else n, r)[0] for g, c in zip(gens, left, strict=True)]
    G_hat = np.empty_like(G)
    if left.any():
        G_hat[left] = project_left(orthonormal_basis(np.stack([s for s, c in zip(S, left, strict=True) if c])),
                                   G[left])
    if (~left).any():
        G_hat[~left] = project_right(orthonormal_basis(np.stack([s for s, c in zip(S, left, strict=True) if not c])),
                                     G[~left])
    return W - gamma * G_hat


def _trajectories(sub, H, y, W0, gamma, cfg: TheoryConfig, seeds, batch: int | None):
    """``R`` Bernoulli-LoRA runs; returns iterates of run 0 ``(T+1, m, n)``, ``f`` and ``‖∇f‖²`` ``(R, T+1)``,
    secant ratios ``(R, T)``."""
    R = len(seeds)
    gens = [np.random.default_rng(s) for s in seeds]
    W = np.repeat(W0[None], R, axis=0)
    rest = [(np.repeat(Wl[None], R, axis=0), np.repeat(bl[None], R, axis=0)) for Wl, bl in sub[1:]]
    b1 = np.repeat(sub[0][1][None], R, axis=0)
    fs, gsq, secant, path = [], [], [], [W0.copy()]
    prev_G = prev_W = None
    for t in range(cfg.steps + 1):
        f, grads = mlp.loss_and_grads([(W, b1), *rest], H, y)
        G = grads[0][0]
        fs.append(f)
        gsq.append(np.sum(G * G, axis=(1, 2)))
        if prev_G is not None:
            dW = np.linalg.norm((W - prev_W).reshape(R, -1), axis=1)
            secant.append(np.linalg.norm((G - prev_G).reshape(R, -1), axis=1) / np.where(dW > 0, dW, np.inf))
        if t == cfg.steps:
            break
        if batch is not None:
            idx = np.stack([g.integers(0, len(y), batch) for g in gens])
            G_step = mlp.loss_and_grads([(W, b1), *rest], H[idx], y[idx])[1][0][0]
        else:
            G_step = G
        prev_G, prev_W = G, W
        W = _bernoulli_step(W, G_step, gamma, cfg.p, cfg.r, gens)
        path.append(W[0].copy())
    return np.stack(path), np.array(fs).T, np.array(gsq).T, np.array(secant).T


def _minibatch_variance(sub, H, y, W, batch: int) -> float:
    """``(1/b) mean_i ‖∇f_i(W) − ∇f(W)‖²`` from per-example gradients of the adapted layer."""
    net = [(W, sub[0][1]), *sub[1:]]
    per = mlp.loss_and_grads(net, H[:, None, :], y[:, None])[1][0][0]  # (N, m, n): each example its own network
    return float(np.mean(np.sum((per - per.mean(axis=0)) ** 2, axis=(1, 2))) / batch)


def _check(thm_id: str, values: dict[str, float], gsq: np.ndarray, alpha: float) -> Check:
    thm = theorems.registry()[thm_id]
    T_total = gsq.shape[1] - 1
    T = stats.log_grid(T_total, points=16)
    csum = np.cumsum(gsq[:, :-1], axis=1)
    X = csum[:, T - 1] / T  # (R, K): (1/T) sum_{t<T} ||grad f(W^t)||^2
    bound = symbolic.evaluate(thm.bound, values, T, thm)
    mb = stats.mean_bounds(X, alpha / len(T))
    v = stats.decide(mb, bound)
    return Check(thm_id, values, symbolic.stepsize_satisfied(thm, values), T, bound, mb.mean, mb.lower, mb.upper,
                 v.verdict, v.reason, stats.slack(mb, bound).value)


def run_theory(exp: Any, runs: int, seed: int, cfg: TheoryConfig | None = None) -> TheoryResult:
    """The theorem check on the network of ``exp`` (a :class:`verify.networks.finetune.Experiment`), ``runs`` runs;
    children of ``SeedSequence([seed, 14])``: 0 power iterations, 1 GD runs, 2 SGD runs."""
    cfg = cfg or TheoryConfig()
    require(runs >= 2, f"--theory-runs {runs} must be at least 2")
    t0 = time.perf_counter()
    split, params0 = exp.split, exp.params0
    H = np.maximum(split.X_train @ params0[0][0].T + params0[0][1], 0.0)  # frozen first layer, computed once
    y = split.y_train
    sub = _new_head(params0, H, y, cfg)
    obj = mlp.layer_objective(sub, 0, H, y)
    W0 = obj.W0
    m, n = W0.shape
    pow_seed, gd_seed, sgd_seed = np.random.SeedSequence([seed, 14]).spawn(3)
    rng = np.random.default_rng(pow_seed)
    L0 = power_iteration(obj.grad, W0, rng, cfg.iters)
    gamma = 1.0 / L0
    lam = BernoulliProjector(cfg.p, cfg.r, _SKETCH, _SKETCH).lambda_closed_form(m, n)
    path, f_gd, gsq_gd, sec_gd = _trajectories(sub, H, y, W0, gamma, cfg, gd_seed.spawn(runs), None)
    _, f_sgd, gsq_sgd, sec_sgd = _trajectories(sub, H, y, W0, gamma, cfg, sgd_seed.spawn(runs), cfg.batch)
    W_ref = W0.copy()
    for _ in range(cfg.reference_steps):
        W_ref = W_ref - gamma * obj.grad(W_ref)
    f_low = float(min(f_gd.min(), f_sgd.min(), obj.f(W_ref)))
    f0 = obj.f(W0)
    at = np.unique(np.linspace(0, cfg.steps, cfg.points).round().astype(int))
    L_at = np.array([power_iteration(obj.grad, path[t], rng, cfg.iters) for t in at])
    L_mid = np.array([power_iteration(obj.grad, (path[a] + path[b]) / 2, rng, cfg.iters)
                      for a, b in zip(at[:-1], at[1:], strict=True)])
    sigma2 = np.array([_minibatch_variance(sub, H, y, path[t], cfg.batch) for t in at])
    secant = np.concatenate([sec_gd, sec_sgd])
    with np.errstate(divide="ignore", invalid="ignore"):
        pl = np.where(f_gd > f_low, gsq_gd / (2 * (f_gd - f_low)), np.inf)
    L_local = float(max(L_at.max(), L_mid.max(), secant.max()))
    common = {"gamma": gamma, "L": L_local, "lambda_min_p": lam[0], "lambda_max_p": lam[1], "Delta0": f0 - f_low}
    checks = (_check("gd-nc", common, gsq_gd, cfg.alpha / 2),
              _check("sgd-nc", {**common, "A": 0.0, "B": 1.0, "C": float(sigma2.max())}, gsq_sgd, cfg.alpha / 2))
    return TheoryResult(cfg, runs, gamma, L0, f0, f_low, lam, at, L_at, L_mid, secant.max(axis=0),
                        pl[:, :-1].min(axis=0), sigma2, checks, time.perf_counter() - t0)


def plot_theory(res: TheoryResult, path: Path) -> bool:
    """Local constants along the path and the observed measure against the bounds; False without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from verify.report import atomic_write

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    ax = axes[0]
    steps = np.arange(1, len(res.secant_max) + 1)
    ax.plot(steps, res.secant_max, lw=0.8, color="0.6", label="secant ratio, max over runs")
    ax.plot(res.steps_at, res.L_at, "o-", label="|λ|max ∇²f at iterates (run 0)")
    ax.plot((res.steps_at[:-1] + res.steps_at[1:]) / 2, res.L_mid, "s", label="… at segment midpoints")
    ax.axhline(1 / res.gamma, color="k", ls="--", lw=1, label="1/γ (L at W0)")
    ax.set(xlabel="step t", ylabel="local L", title="local smoothness along the path")
    ax.legend(fontsize=7)
    ax = axes[1]
    ax.plot(np.arange(len(res.pl_min)), res.pl_min, label="PŁ ratio ‖∇f‖²/(2(f−f_low)), min over runs")
    ax2 = ax.twinx()
    ax2.plot(res.steps_at, res.sigma2, "^-", color="C3", label="σ² (minibatch)")
    ax.set(xlabel="step t", ylabel="PŁ ratio", yscale="log", title="PŁ ratio and minibatch variance")
    ax2.set_ylabel("σ²", color="C3")
    ax.legend(fontsize=7, loc="upper right")
    ax = axes[2]
    for c, color in zip(res.checks, ("C0", "C1"), strict=True):
        ax.fill_between(c.T, c.lower, c.upper, color=color, alpha=0.3)
        ax.plot(c.T, c.mean, color=color, label=f"observed mean, {c.theorem} runs")
        ax.plot(c.T, c.bound, color=color, ls="--", label=f"bound {c.theorem} (local constants)")
    ax.set(xlabel="T", ylabel="(1/T) Σ ‖∇f(W^t)‖²", xscale="log", yscale="log", title="measure vs bound")
    ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    atomic_write(path, buf.getvalue())
    return True


def theory_markdown(res: TheoryResult) -> str:
    """The Markdown section written to ``theory.md``."""
    cfg = res.config
    m = [f"# Theorems 1 and 2 along a real fine-tuning run\n\n"
         f"Adapted: the second hidden layer W (64×64, ReLU) of the pre-trained network after its output layer was "
         f"re-fitted to digits 5–9 ({cfg.head_steps} full-batch GD steps, then frozen); first layer frozen. "
         f"Bernoulli-LoRA, p = {cfg.p:g}, rank {cfg.r}, a fresh Gaussian sketch every step, γ = 1/L(W0) = "
         f"{res.gamma:.4g}, T = {cfg.steps}, R = {res.runs} runs each for GD (full batch) and SGD (minibatch "
         f"{cfg.batch}). Hessian-vector products: central differences of exact gradients; power iteration "
         f"{cfg.iters} steps. f* estimated by f_low = {res.f_low:.5g}, the smallest loss seen (all runs and "
         f"{cfg.reference_steps} steps of plain GD on W); f(W0) = {res.f0:.5g}, so Δ0 = {res.f0 - res.f_low:.5g} "
         f"(at most the true Δ0: the bounds below are at most the true ones).\n\n",
         "| constant | value |\n|---|---:|\n",
         f"| L at W0 (power iteration) | {res.L0:.4g} |\n",
         f"| max L at iterates / at segment midpoints | {res.L_at.max():.4g} / {res.L_mid.max():.4g} |\n",
         f"| max secant ratio over all steps and runs (GD and SGD) | {res.secant_max.max():.4g} |\n",
         f"| local L used (largest of the above) | {res.L_local:.4g} |\n",
         f"| L at the last iterate / at W0 | {res.L_at[-1] / res.L_at[0]:.3g} |\n",
         f"| PŁ ratio, min over runs and steps | {np.min(res.pl_min):.4g} |\n",
         f"| σ² (minibatch {cfg.batch}), min / max on the path | {res.sigma2.min():.4g} / {res.sigma2.max():.4g} |\n",
         f"| λ_min^p = λ_max^p (Gaussian sketch, closed form p r/m + (1−p) r/n) | {res.lambda_p[0]:.4g} |\n\n",
         "| theorem | bound at T (local constants) | observed mean [conf. bounds] at T | stepsize condition "
         "with local L | verdict | slack |\n|---|---:|---:|---|---|---:|\n"]
    for c in res.checks:
        m.append(f"| {c.theorem} | {c.bound[-1]:.4g} | {c.mean[-1]:.4g} [{c.lower[-1]:.4g}, {c.upper[-1]:.4g}] | "
                 f"{'met' if c.stepsize_ok else 'not met'} | {c.verdict} | {c.slack:.3g} |\n")
    m.append(f"\nBounds from `theorems` (gd-nc: 2Δ0/(γ λ_min^p T); sgd-nc with A = 0, B = 1, C = max σ²), evaluated "
             f"by `verify.symbolic`; verdicts by `verify.stats` (skew-aware one-sided bounds, family-wise α = "
             f"{cfg.alpha:g} split over both checks and {len(res.checks[0].T)} checkpoints each). "
             f"Time {res.seconds:.0f} s.\n\n![local constants](theory.png)\n")
    return "".join(m)


def write_theory(res: TheoryResult, out: Path) -> list[Path]:
    """``theory.md``, ``theory.json`` and ``theory.png`` (if matplotlib is present) in ``out``."""
    from verify.report import atomic_write, ensure_writable

    ensure_writable(out)
    data = {"gamma": res.gamma, "L0": res.L0, "L_local": res.L_local, "f0": res.f0, "f_low": res.f_low,
            "lambda_p": list(res.lambda_p), "steps_at": res.steps_at.tolist(), "L_at": res.L_at.tolist(),
            "L_mid": res.L_mid.tolist(), "sigma2": res.sigma2.tolist(), "pl_min": float(np.min(res.pl_min)),
            "secant_max": float(res.secant_max.max()), "runs": res.runs, "seconds": res.seconds,
            "checks": [{"theorem": c.theorem, "values": c.values, "stepsize_ok": c.stepsize_ok, "T": c.T.tolist(),
                        "bound": c.bound.tolist(), "mean": c.mean.tolist(), "lower": c.lower.tolist(),
                        "upper": c.upper.tolist(), "verdict": c.verdict, "reason": c.reason, "slack": c.slack}
                       for c in res.checks]}
    atomic_write(out / "theory.json", json.dumps(data, indent=1).encode())
    atomic_write(out / "theory.md", theory_markdown(res).encode())
    written = [out / "theory.json", out / "theory.md"]
    if plot_theory(res, out / "theory.png"):
        written.append(out / "theory.png")
    return written

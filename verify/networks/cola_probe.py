r"""Why COLA trails the sketched chains in the §7.2 table: its *training* loss under variations (no test data).

COLA (:mod:`verify.networks.adapters`) trains both factors of ``W = W_base + BA`` by plain SGD from ``B = 0``,
``A ~ N(0, 1/n)``: ``B ← B − γ G Aᵀ``, ``A ← A − γ Bᵀ G``.  Near ``B = 0``, with ``(σ, u, v)`` the top singular
triple of ``−G`` and ``b = uᵀB``, ``a = A v`` (rank 1), one step is ``b ← b + γσ a``, ``a ← a + γσ b``, so
``a + b`` grows by the factor ``1 + γσ`` per step and ``BA`` by ``(1 + γσ)²``: how large a stepsize stays
stable is set by the size ``σ`` of the gradient, not by the smoothness ``L`` of ``f``.  The sketched chains
take the step ``W ← W − γ H G`` (``H`` a projection) whose size is linear in ``G``; their stable stepsize is
set by ``L``.  At the start of fine-tuning the pre-trained head predicts digits 0–4 with confidence, so
``f(W0)`` and ``σ`` are large, and the first round decides which ``γ`` survives.

:func:`probe` runs COLA variants on the table's first runs (seed 0, the same split, pre-trained network and
per-run generators as :func:`verify.networks.finetune.run`) and returns the final training loss of each
run; the variant with defaults is exactly the table's COLA (a test checks it against
:func:`verify.networks.adapters.finetune`).  ``python -m verify.networks.cola_probe`` prints the comparison
the README quotes.  Nothing here reads the test set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from verify.errors import require
from verify.networks import adapters, mlp

__all__ = ["Variant", "initial_gradients", "probe"]


@dataclass(frozen=True)
class Variant:
    """A COLA variant: stepsize ``gamma``; the first ``warmup_rounds`` rounds at ``warmup_gamma`` instead."""

    gamma: float
    warmup_rounds: int = 0
    warmup_gamma: float = 0.0

    def __post_init__(self) -> None:
        require(self.gamma > 0 and self.warmup_rounds >= 0 and (self.warmup_rounds == 0 or self.warmup_gamma > 0),
                f"COLA variant {self!r}: need gamma > 0, warmup_rounds >= 0 and warmup_gamma > 0 with a warm-up")

    @property
    def label(self) -> str:
        if self.warmup_rounds == 0:
            return f"COLA, gamma {self.gamma:g}"
        return f"COLA, first {self.warmup_rounds} round(s) at gamma {self.warmup_gamma:g}, then {self.gamma:g}"


def probe(variant: Variant, params0: mlp.Params, X: np.ndarray, y: np.ndarray, seeds: list[np.random.SeedSequence],
          *, layers: tuple[int, ...], steps: int, round_len: int, batch: int) -> np.ndarray:
    """Final training loss ``(R,)`` of COLA ``variant`` on ``(X, y)`` from ``params0``, one run per seed, drawing
    minibatches and LoRA initialisations exactly as :func:`verify.networks.adapters.finetune` does (a diverged
    run gives ``inf`` or ``nan``)."""
    gens = [np.random.default_rng(s) for s in seeds]
    R = len(gens)
    params = [(np.repeat(W[None], R, axis=0), np.repeat(b[None], R, axis=0)) for W, b in params0]
    ads = {li: adapters._Adapter(params[li][0], 1) for li in layers}

    def effective() -> mlp.Params:
        return [(ads[li].weight(), b) if li in ads else (W, b) for li, (W, b) in enumerate(params)]

    with np.errstate(all="ignore"):
        for t in range(steps):
            if t % round_len == 0:
                for a in ads.values():
                    a.merge()
                    a.start_lora(gens)
            idx = np.stack([g.integers(0, len(y), batch) for g in gens])
            _, grads = mlp.loss_and_grads(effective(), X[idx], y[idx])
            gamma = variant.warmup_gamma if t < variant.warmup_rounds * round_len else variant.gamma
            for li, a in ads.items():
                a.lora_step(grads[li][0], gamma)
        return np.asarray(mlp.loss_and_grads(effective(), X, y)[0])


def initial_gradients(params0: mlp.Params, X: np.ndarray, y: np.ndarray, layers: tuple[int, ...]
                      ) -> tuple[float, list[float]]:
    """``f(W0)`` on ``(X, y)`` and the spectral norm ``σ_max(∇_W f)`` of each adapted layer's full-batch gradient."""
    loss, grads = mlp.loss_and_grads(params0, X, y)
    return float(loss), [float(np.linalg.norm(grads[li][0], 2)) for li in layers]


VARIANTS = (Variant(0.1), Variant(0.2), Variant(0.3), Variant(0.3, 1, 0.1), Variant(0.5, 1, 0.1),
            Variant(1.0, 1, 0.1))
"""What ``python -m verify.networks.cola_probe`` compares: the table's COLA (0.1) and larger stepsizes, without
and with one warm-up round at 0.1."""

COMPARED = (adapters.Method("bernoulli", 0.3, p=0.0), adapters.Method("bernoulli", 1.0, p=0.0),
            adapters.Method("rac", 0.3))
"""Sketched chains beside it: the right sketch only (``A`` random and fixed, ``B`` trained with the normalised
step: COLA's factor roles without the bilinear term) and RAC-LoRA at its tuned stepsize."""


def main(runs: int = 4, seed: int = 0) -> None:
    """Print ``f(W0)``, the initial gradient norms and the final training loss of each of :data:`VARIANTS`."""
    from verify.executors import blas_limit
    from verify.networks.adapters import Method
    from verify.networks.finetune import Config, run

    cfg = Config()
    with blas_limit(1):
        exp = run(Config(runs=2, steps=1, round_len=1, eval_every=1, methods=(Method("full", 0.3),)), seed)
        X, y = exp.split.X_train, exp.split.y_train
        seeds = np.random.SeedSequence(seed).spawn(3)[2].spawn(cfg.runs)[:runs]  # the table's first runs
        f0, sigma = initial_gradients(exp.params0, X, y, cfg.layers)
        print(f"f(W0) = {f0:.3g} on the fine-tuning training set; sigma_max of the full-batch gradient of layers "
              f"{cfg.layers}: {', '.join(f'{s:.3g}' for s in sigma)}")
        rows = [(v.label, probe(v, exp.params0, X, y, seeds, layers=cfg.layers, steps=cfg.steps,
                                round_len=cfg.round_len, batch=cfg.batch)) for v in VARIANTS]
        for m in COMPARED:  # the test-accuracy slot of finetune gets the training set: only the loss is used
            curves = adapters.finetune(m, exp.params0, X, y, X, y, seeds, layers=cfg.layers, r=cfg.r, steps=cfg.steps,
                                       round_len=cfg.round_len, batch=cfg.batch, eval_every=cfg.steps)
            rows.append((f"{m.label}, gamma {m.gamma:g}", curves.train_loss[:, -1]))
    for label, loss in rows:
        ok = np.isfinite(loss)
        mean = f"{np.mean(loss[ok]):.3g}" if ok.any() else "-"
        print(f"{label:55s} final training loss {mean:>6s} over {int(ok.sum())} of {len(loss)} runs"
              + ("" if ok.all() else " (the others diverged)"))


if __name__ == "__main__":
    main()

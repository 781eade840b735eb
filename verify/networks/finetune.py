r"""The paper's §7.2 in miniature: pre-train an MLP on digits 0–4, fine-tune it on digits 5–9 with adapters.

Network: ``64 → 64 → 64 → 10`` ReLU MLP (:mod:`verify.networks.mlp`), pre-trained by minibatch SGD on the
8×8 digits 0–4 (:mod:`verify.networks.data`).  Fine-tuning on 5–9 adapts the **second hidden layer**
(``64×64``) **and the output layer** (``10×64``) with one rank-1 adapter each (:mod:`verify.networks.adapters`);
the first layer and every bias stay frozen.  The output layer must be adapted: pre-training never asks for
classes 5–9, so a frozen head cannot represent them (adapting a hidden layer alone fails on 5–9).

Each run ``i`` of every method draws from the ``i``-th child of one ``SeedSequence`` (minibatches,
coins, sketches, LoRA initialisations), so the methods see the same minibatch streams per run.  The
paper's numbers (MNIST, 20 runs, :data:`PAPER`) are printed beside ours; the data sets differ.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from verify.errors import require
from verify.networks import mlp
from verify.networks.adapters import Curves, Method, finetune
from verify.networks.data import DigitsSplit, load_split

__all__ = ["DEFAULT_METHODS", "PAPER", "Config", "Experiment", "pretrain", "run", "summary_markdown"]

PAPER = {
    "Full fine-tuning": "99.5",
    "COLA": "96.55 ± 0.20",
    "RAC-LoRA": "96.49 ± 0.20",
    "Bernoulli-LoRA (p=0.99)": "96.46 ± 0.17",
}
"""Test accuracy (%) the paper reports for §7.2 (MNIST, MLP, rank-1 adapters, 20 runs; about 904 expected
trainable parameters for the chains).  Only these rows are the paper's; every other number is measured here."""

DEFAULT_METHODS = (
    Method("full", 0.3),
    Method("bernoulli", 0.1, p=0.99),
    Method("bernoulli", 0.3, p=0.5),
    Method("bernoulli", 1.0, p=0.01),
    Method("rac", 0.3),
    Method("cola", 0.1),
    Method("asym", 1.0),
    Method("lora", 0.03),
)
"""The methods and their stepsizes gamma: for each method the gamma of the grid {0.03, 0.1, 0.3, 1} with the
smallest mean final *training* loss over 4 runs (seed 0: the same split and pre-trained network as the table,
and the first 4 of its 20 runs; 3,000 steps); the test set is not used for tuning (README.md)."""


@dataclass(frozen=True)
class Config:
    """The experiment's settings (defaults: the table in README.md)."""

    sizes: tuple[int, ...] = (64, 64, 64, 10)
    activation: str = "relu"
    layers: tuple[int, ...] = (1, 2)
    r: int = 1
    pre_steps: int = 2000
    pre_gamma: float = 0.1
    steps: int = 3000
    round_len: int = 10
    batch: int = 64
    eval_every: int = 100
    runs: int = 20
    methods: tuple[Method, ...] = field(default=DEFAULT_METHODS)

    def __post_init__(self) -> None:
        require(isinstance(self.runs, int) and self.runs >= 2, f"runs={self.runs!r}: need an integer >= 2")
        require(isinstance(self.steps, int) and self.steps >= 1, f"steps={self.steps!r}: need an integer >= 1")
        require(isinstance(self.round_len, int) and 1 <= self.round_len <= self.steps,
                f"round_len={self.round_len!r}: need an integer between 1 and steps={self.steps}")


@dataclass(frozen=True, eq=False)
class Experiment:
    """The data split, the pre-trained network, its accuracy on 0–4, and one :class:`Curves` per method
    (``R = runs``)."""

    config: Config
    seed: int
    split: DigitsSplit
    params0: mlp.Params
    pre_accuracy: float
    curves: tuple[Curves, ...]
    seconds: dict[str, float]


def pretrain(split: DigitsSplit, config: Config, rng: np.random.Generator) -> mlp.Params:
    """He initialisation, then ``pre_steps`` minibatch SGD steps (stepsize ``pre_gamma``) on digits 0–4."""
    params = mlp.init_params(config.sizes, rng)
    for _ in range(config.pre_steps):
        idx = rng.integers(0, len(split.y_pre), config.batch)
        _, grads = mlp.loss_and_grads(params, split.X_pre[idx], split.y_pre[idx], config.activation)
        params = [(W - config.pre_gamma * gW, b - config.pre_gamma * gb)
                  for (W, b), (gW, gb) in zip(params, grads, strict=True)]
    return params


def run(config: Config, seed: int) -> Experiment:
    """Split the data, pre-train, fine-tune with every method of ``config``; children of ``SeedSequence(seed)``:
    0 the split, 1 the pre-training, 2 the runs (one child per run, shared by the methods)."""
    root = np.random.SeedSequence(seed)
    split_seed, pre_seed, runs_seed = root.spawn(3)
    split = load_split(np.random.default_rng(split_seed))
    t0 = time.perf_counter()
    params0 = pretrain(split, config, np.random.default_rng(pre_seed))
    seconds = {"pretrain": time.perf_counter() - t0}
    run_seeds = runs_seed.spawn(config.runs)
    curves = []
    for method in config.methods:
        t0 = time.perf_counter()
        curves.append(finetune(method, params0, split.X_train, split.y_train, split.X_test, split.y_test, run_seeds,
                               layers=config.layers, r=config.r, steps=config.steps, round_len=config.round_len,
                               batch=config.batch, eval_every=config.eval_every, activation=config.activation))
        seconds[method.label] = time.perf_counter() - t0
    pre_acc = float(mlp.accuracy(params0, split.X_pre, split.y_pre, config.activation))
    return Experiment(config, seed, split, params0, pre_acc, tuple(curves), seconds)


def _row(exp: Experiment, c: Curves) -> dict[str, Any]:
    acc = 100 * c.test_acc[:, -1]
    return {"method": c.method.label, "gamma": c.method.gamma, "mean": float(np.mean(acc)),
            "std": float(np.std(acc, ddof=1)), "min": float(np.min(acc)), "max": float(np.max(acc)),
            "final_train_loss": float(np.mean(c.train_loss[:, -1])),
            "trainable_per_step": c.method.trainable(exp.params0, exp.config.layers, exp.config.r),
            "chained": c.method.chained, "paper": PAPER.get(c.method.label), "seconds": exp.seconds[c.method.label]}


def table_rows(exp: Experiment) -> list[dict[str, Any]]:
    """One dict per method: final test accuracy in % (mean, std over runs, min, max), trainable parameters
    per step (expected for the Bernoulli chain), the paper's number where it reports one, time."""
    return [_row(exp, c) for c in exp.curves]


def _layers_text(exp: Experiment) -> str:
    shapes = ", ".join(f"layer {li} ({exp.params0[li][0].shape[0]}×{exp.params0[li][0].shape[1]})"
                       for li in exp.config.layers)
    return (f"adapted: {shapes}, one rank-{exp.config.r} adapter each; other layers and all biases frozen "
            f"(full fine-tuning trains all {mlp.n_params(exp.params0)} parameters)")


def table_text(exp: Experiment) -> str:
    """The accuracy table as plain text, the paper's column marked as such."""
    lines = [f"{'method':<26} {'gamma':>6} {'test acc % (ours, 8x8 digits)':>30} {'trainable/step':>15} "
             f"{'paper (MNIST)':>14} {'time':>7}"]
    for row in table_rows(exp):
        acc = f"{row['mean']:.2f} ± {row['std']:.2f}"
        lines.append(f"{row['method']:<26} {row['gamma']:>6g} {acc:>30} {row['trainable_per_step']:>15.1f} "
                     f"{row['paper'] or '-':>14} {row['seconds']:>6.1f}s")
    return "\n".join(lines)


def summary_markdown(exp: Experiment) -> str:
    """The Markdown summary written to ``finetune.md``."""
    cfg = exp.config
    out = io.StringIO()
    out.write("# Fine-tuning on digits 5–9 (§7.2 of the paper in miniature)\n\n")
    out.write(f"Data: scikit-learn's 8×8 digits (the paper uses MNIST: the numbers are not comparable one to one). "
              f"Network {'-'.join(map(str, cfg.sizes))} ({cfg.activation}), pre-trained on digits 0–4 "
              f"(training accuracy {100 * exp.pre_accuracy:.1f} %), fine-tuned on 5–9 for {cfg.steps} SGD steps "
              f"(minibatch {cfg.batch}); chains start a new adapter every {cfg.round_len} steps. "
              f"{_layers_text(exp)}. {cfg.runs} runs per method, seed {exp.seed}.\n\n")
    out.write("| method | gamma | test accuracy % (ours) | trainable per step | paper (MNIST) | time |\n"
              "|---|---:|---:|---:|---:|---:|\n")
    for row in table_rows(exp):
        out.write(f"| {row['method']} | {row['gamma']:g} | {row['mean']:.2f} ± {row['std']:.2f} | "
                  f"{row['trainable_per_step']:.1f} | {row['paper'] or '–'} | {row['seconds']:.1f} s |\n")
    out.write("\nmean ± sample std over runs of the final test accuracy. *paper*: the paper's reported numbers "
              "(MNIST, about 904 expected trainable parameters); every other column is measured here. "
              "Trainable per step: expected for Bernoulli-LoRA, the average over rounds for RAC-LoRA.\n\n"
              "![curves](finetune_curves.png)\n")
    return out.getvalue()


def _summary_json(exp: Experiment) -> dict[str, Any]:
    return {"config": {**asdict(exp.config), "methods": [asdict(m) for m in exp.config.methods]},
            "seed": exp.seed, "pretrain_accuracy": exp.pre_accuracy, "seconds": exp.seconds,
            "rows": table_rows(exp),
            "curves": [{"method": c.method.label, "steps": c.steps.tolist(),
                        "train_loss_mean": np.mean(c.train_loss, axis=0).tolist(),
                        "test_acc_mean": np.mean(c.test_acc, axis=0).tolist()} for c in exp.curves],
            "paper_note": "paper numbers are for MNIST; this experiment uses scikit-learn's 8x8 digits"}


def plot_curves(exp: Experiment, path: Path) -> bool:
    """Mean training loss and test accuracy against steps, one line per method; False without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from verify.report import atomic_write

    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(10, 3.8))
    for c in exp.curves:
        loss = np.where(np.isfinite(c.train_loss), c.train_loss, np.nan)
        ax_l.plot(c.steps, np.nanmean(loss, axis=0), label=c.method.label)
        ax_a.plot(c.steps, 100 * np.mean(c.test_acc, axis=0), label=c.method.label)
    ax_l.set(xlabel="step", ylabel="training loss (mean over runs)", yscale="log")
    ax_a.set(xlabel="step", ylabel="test accuracy % (mean over runs)", ylim=(0, 100))
    ax_a.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    atomic_write(path, buf.getvalue())
    return True


def write_outputs(exp: Experiment, out: Path) -> list[Path]:
    """``finetune.json``, ``finetune.md`` and ``finetune_curves.png`` (if matplotlib is present) in ``out``."""
    from verify.report import atomic_write, ensure_writable

    ensure_writable(out)
    written = []
    atomic_write(out / "finetune.json", json.dumps(_summary_json(exp), indent=1).encode())
    written.append(out / "finetune.json")
    atomic_write(out / "finetune.md", summary_markdown(exp).encode())
    written.append(out / "finetune.md")
    if plot_curves(exp, out / "finetune_curves.png"):
        written.append(out / "finetune_curves.png")
    return written


def _cmd_finetune(args: argparse.Namespace) -> int:
    require(args.runs >= 2, f"--runs {args.runs} must be at least 2 (a std needs two runs)")
    require(args.steps >= 1, f"--steps {args.steps} must be at least 1")
    config = Config(runs=args.runs, steps=args.steps, round_len=min(Config.round_len, args.steps),
                    eval_every=max(1, min(Config.eval_every, args.steps)))
    from verify.executors import blas_limit

    with blas_limit(args.blas_threads):  # small matrices: one BLAS thread is ~10x faster on a loaded machine
        return _finetune_limited(args, config)


def _finetune_limited(args: argparse.Namespace, config: Config) -> int:
    t0 = time.perf_counter()
    exp = run(config, args.seed)
    print(f"§7.2 in miniature: pre-trained on 8x8 digits 0-4 ({100 * exp.pre_accuracy:.1f} % train accuracy), "
          f"fine-tuned on 5-9; {config.runs} runs, {config.steps} steps")
    print(_layers_text(exp))
    print(table_text(exp))
    print("paper column: the paper's reported test accuracy on MNIST (about 904 expected trainable parameters); "
          "ours: 8x8 digits, mean ± std over runs")
    written = write_outputs(exp, Path(args.out))
    if args.theory:
        from verify.networks.local_theory import run_theory, write_theory

        theory = run_theory(exp, args.theory_runs, args.seed)
        print(theory.verdict_line())
        written += write_theory(theory, Path(args.out))
    print(f"wrote {', '.join(str(p) for p in written)} ({time.perf_counter() - t0:.0f} s)")
    return 0


def add_finetune_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``finetune`` subcommand to ``subparsers`` (of :func:`verify.cli.build_parser`); sets ``func``."""
    from verify.cli.args import integer as _integer

    p = subparsers.add_parser("finetune", help="the paper's §7.2 in miniature: adapters on an MLP, 8x8 digits",
                              description="Pre-train an MLP on 8x8 digits 0-4, fine-tune on 5-9 with Bernoulli-LoRA, "
                                          "RAC-LoRA, COLA, asymmetric LoRA, LoRA and full fine-tuning; print the "
                                          "accuracy table beside the paper's and write curves and a summary.")
    p.add_argument("--runs", type=_integer("--runs"), default=Config.runs, help="runs per method (default 20)")
    p.add_argument("--steps", type=_integer("--steps"), default=Config.steps,
                   help=f"fine-tuning steps (default {Config.steps})")
    p.add_argument("--seed", type=_integer("--seed"), default=0, help="root seed")
    p.add_argument("--theory", action="store_true",
                   help="also check Theorems 1 and 2 along Bernoulli-LoRA runs of one layer, gamma from a pilot's "
                        "local L, the local constants re-estimated along the runs")
    p.add_argument("--theory-runs", type=_integer("--theory-runs"), default=64, help="runs R of the theorem check")
    p.add_argument("--blas-threads", type=_integer("--blas-threads"), default=1, metavar="N",
                   help="BLAS/OpenMP threads (default 1; 0: the libraries' default)")
    p.add_argument("--out", default="finetune-out", help="output folder")
    p.set_defaults(func=_cmd_finetune)
    return p

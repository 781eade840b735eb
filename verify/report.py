"""Write a run's results: ``results.json``, ``index.md`` and one PNG plot per check.

Every file is written to a temporary name in the same folder and renamed into place, so an
interrupted run never leaves a half-written file.  Plots need matplotlib (the ``report`` extra); without
it the report says so and lists the results.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from verify.check import CheckResult
from verify.errors import UserError
from verify.measures import LABELS


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ensure_writable(out: Path) -> None:
    """Create ``out`` if needed and make sure files can be written in it (UserError otherwise)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=out, prefix=".write-probe-", delete=True)
        probe.close()
    except OSError as exc:
        raise UserError(f"--out {str(out)!r} is not a writable folder ({exc.strerror or exc})") from None


def provenance() -> dict[str, Any]:
    """Versions, platform, commit and date for the results file."""
    import mpmath
    import numpy
    import scipy
    import sympy

    import verify

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                                cwd=Path(__file__).resolve().parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": {"verify": verify.__version__, "python": sys.version.split()[0], "numpy": numpy.__version__,
                     "scipy": scipy.__version__, "sympy": sympy.__version__, "mpmath": mpmath.__version__},
        "platform": platform.platform(),
        "commit": commit,
    }


def check_name(res: CheckResult) -> str:
    """A file-name-safe name for one check."""
    params = "".join(f"_{k}={v}" for k, v in sorted(res.params.items()))
    raw = f"{res.theorem}__{res.problem}__{res.sketch}__p{res.p}_r{res.r}{params}"
    return re.sub(r"[^A-Za-z0-9_.=-]+", "-", raw)


def plot_check(res: CheckResult, path: Path) -> None:
    """Bound vs observed mean with its confidence band and a few single runs, log scale, against T."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    c = res.curve
    T = np.asarray(c["T"], dtype=float)
    fig, ax = plt.subplots(figsize=(7.0, 4.2), dpi=110)
    for i, run in enumerate(c["runs"]):
        ax.plot(T, run, color="tab:blue", alpha=0.18, lw=0.8, label="single runs" if i == 0 else None)
    lower = np.maximum(np.asarray(c["lower"], dtype=float), np.finfo(float).tiny)
    ax.fill_between(T, lower, c["upper"], color="tab:blue", alpha=0.25,
                    label=f"confidence band (each side at level 1 - {res.alpha_each:.1g})")
    ax.plot(T, c["mean"], color="tab:blue", lw=1.8, label=f"observed mean ({res.seeds} runs)")
    if res.applicable:
        scale = "" if res.bound_scale == 1 else f" x {res.bound_scale:g}"
        ax.plot(T, c["bound"], color="tab:red", ls="--", lw=1.8, label=f"theorem bound{scale}")
    ax.set_yscale("log")
    if res.measure in ("avg_grad_sq", "weighted_grad_sq", "gap_avg_iterate", "gap_best"):
        ax.set_xscale("log")
    ax.set_xlabel("iterations T")
    ax.set_ylabel(LABELS[res.measure])
    slack = "" if res.slack is None else f", slack {res.slack:.3g}"
    ax.set_title(f"{res.theorem} on {res.problem}, {res.sketch} sketch (p={res.p}, r={res.r})\n"
                 f"verdict: {verdict_label(res)}{slack}", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)


def verdict_label(res: CheckResult) -> str:
    """The verdict, marked ``(attained)`` when the observed mean is indistinguishable from the bound."""
    return res.verdict + (" (attained)" if res.attained else "")


def _fmt(x: float | None, spec: str = ".3g") -> str:
    return "–" if x is None else format(x, spec)


def markdown(results: Sequence[CheckResult], meta: dict[str, Any], plots: dict[str, str]) -> str:
    """The Markdown report: summary table, then one section per check with its bound and plot."""
    lines = [
        "# Bernoulli-LoRA theorem checks",
        "",
        f"Root seed {meta['seed']}, family-wise α = {meta['alpha']:g} (Bonferroni over checks, checkpoints "
        f"and one-step states), {meta['date']}, commit `{meta.get('commit') or 'unknown'}`.",
        "",
        "| theorem | paper | provenance | problem | sketch | p | r | γ | runs | T | verdict | slack | slack at T | "
        "one-step | time (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for res in results:
        lemma = "–" if res.lemma is None else f"{res.lemma['verdict']} ({_fmt(res.lemma['slack'])})"
        gamma = "Polyak" if res.gamma is None else _fmt(res.gamma, ".4g")
        lines.append(
            f"| `{res.theorem}` | {res.paper_ref} | {res.provenance['tag']} | `{res.problem}` | {res.sketch} | "
            f"{res.p:g} | {res.r} | {gamma} | {res.seeds} | {res.iters} | **{verdict_label(res)}** | "
            f"{_fmt(res.slack)} | {_fmt(res.slack_final)} | {lemma} | {res.timings['total_s']:.1f} |")
    if not plots:
        lines += ["", "_Plots were not drawn: matplotlib is not installed (`pip install '.[report]'`)._"]
    for res in results:
        name = check_name(res)
        lines += ["", f"## {res.theorem} on `{res.problem}`, {res.sketch} sketch (p = {res.p:g}, r = {res.r})", "",
                  f"$$ {res.bound_latex} $$", "",
                  f"Verdict **{verdict_label(res)}**: {res.reason}.  Slack {_fmt(res.slack)} at T = {res.slack_T}"
                  + ("" if res.slack_interval is None else
                     f" (confidence interval {_fmt(res.slack_interval[0])} to {_fmt(res.slack_interval[1])})")
                  + f".  γ = {_fmt(res.gamma, '.6g')} "
                  f"(γ_max = {_fmt(res.gamma_max, '.6g')}), bound scale {res.bound_scale:g}.", "",
                  "| constant | value | how |", "|---|---|---|"]
        lines += [f"| {k} | {v['value']:.6g} | {v['how']} |" for k, v in res.constants.items()]
        if name in plots:
            lines += ["", f"![{name}]({plots[name]})"]
    return "\n".join(lines) + "\n"


def write_report(out: Path, results: Sequence[CheckResult], seed: int, alpha: float) -> dict[str, Any]:
    """Write ``results.json``, ``index.md`` and ``plots/*.png`` into ``out``; returns the metadata."""
    meta = {**provenance(), "seed": seed, "alpha": alpha}
    plots: dict[str, str] = {}
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        pass
    else:
        (out / "plots").mkdir(parents=True, exist_ok=True)
        for res in results:
            name = check_name(res)
            plot_check(res, out / "plots" / f"{name}.png")
            plots[name] = f"plots/{name}.png"
    payload = {"meta": meta, "checks": [r.to_dict() for r in results]}
    atomic_write(out / "results.json", json.dumps(payload, indent=1, allow_nan=False, default=_json_default).encode())
    atomic_write(out / "index.md", markdown(results, meta, plots).encode())
    return meta


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")

r"""``verify sweep CONFIG.toml``: the paper's §7.1 figures over a parameter grid, with theorem bounds overlaid.

For every grid point (method × problem size × γ factor × r × p, see :mod:`verify.sweep_config`) the
sweep runs R chains of T steps of Bernoulli-LoRA and records ``‖∇f(W^t)‖²`` per run.  It writes

* ``DIR/sweep.json``: long format, one record per grid point, with its parameters, the stepsize, the
  seed (root and spawn key), the median and band of ``‖∇f(W^t)‖²`` against t, and the theorem overlay;
* ``DIR/plots/*.png``: one figure per grid slice.  The left panel is the paper's plot: the median of
  ``‖∇f(W^t)‖²`` over the runs against the iterations (log y), with a quantile band.  The right panel
  compares the **theorem's measure**, the running (weighted) average
  :math:`\frac1T\sum_{t<T}\|\nabla f(W^t)\|^2`, with the theorem's bound (log-log).  The bounds are on
  averages, not on the last iterate, so they are drawn only there.

The stepsize is ``γ = gamma_factor · γ_max`` with γ_max and every constant from the theorem the method
names (:func:`verify.check.prepare`, e.g. ``gd-nc``, ``sgd-nc``, ``page-nc``), and the bound curve is
:func:`verify.symbolic.evaluate` of that theorem's bound.  A grid point outside the theorem's conditions
(factor > 1, or λ_min^p = 0) is run and plotted, without a bound.

Seeds and tasks: each grid point is one task (:class:`SweepTask`) with ``SeedSequence(seed,
spawn_key=H(key))`` (:func:`verify.seeding.task_seed`), where ``key`` is the check key of the point: the
numbers depend on what the point is, never on the grid around it, nor on the executor.  The tasks run
through :func:`verify.driver.drive` like the checks of ``verify run``: on local processes (``--jobs N``) or
a Dask cluster (``--executor dask``), each finished point stored in ``DIR/tasks`` at once, and
``--resume`` skips the stored points of an interrupted sweep.

Notes
-----
On the finite-sum §7.1 problem, SGD with a constant stepsize stops at a noise floor (the theorem's
``LγCλ_max^p/λ_min^p`` term), while PAGE and GD keep going down until floating-point round-off.  The
plots show the lowest median reached (in the legend) rather than a target value.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import math
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from verify import report, resources, stats, symbolic
from verify.check import CheckSpec, Prepared, prepare
from verify.driver import drive
from verify.errors import UserError
from verify.executors import DEFAULT_BLAS_THREADS
from verify.jsonio import atomic_write, json_safe
from verify.measures import LABELS, measure_values
from verify.runner import Algorithm, run
from verify.seeding import task_seed
from verify.sweep_config import AXES, Figure, SweepConfig, load
from verify.tasks import require_fields

#: Measures a bound can be overlaid on: running averages of ‖∇f(W^t)‖².
OVERLAID_MEASURES = ("avg_grad_sq", "weighted_grad_sq")
#: At most this many t are stored per curve (all of them when T is smaller).
CURVE_POINTS = 1000
#: The fields of a grid point's record (:func:`run_point`); a stored task lacking one is run again.
RECORD_FIELDS = ("method", "theorem", "estimator", "params", "problem", "size", "problem_params", "sketch", "p",
                 "r", "gamma_factor", "gamma", "gamma_max", "conditions_met", "runs", "iters", "root_seed",
                 "spawn_key", "key", "grad_sq_initial", "grad_sq_final_median", "grad_sq_min_median",
                 "diverged_at", "band", "curve", "overlay", "time_s")


@dataclass(frozen=True)
class Point:
    """One grid point: the value on every axis of :data:`verify.sweep_config.AXES`."""

    method: str
    size: tuple[tuple[str, Any], ...]
    gamma_factor: float
    r: int
    p: float

    def value(self, axis: str) -> Any:
        """The value on ``axis``."""
        return getattr(self, axis)

    def describe(self, axes: Sequence[str] = AXES) -> str:
        """``"method=gd, r=1, p=0.5"`` for the given axes."""
        return ", ".join(f"{a}={format_value(a, self.value(a))}" for a in axes)


def format_value(axis: str, value: Any) -> str:
    """A short text for one axis value (``size`` as ``m=8,n=8,N=512``)."""
    if axis == "size":
        return ",".join(f"{k}={v}" for k, v in value) or "default"
    return f"{value:g}" if isinstance(value, float) else str(value)


def grid_points(cfg: SweepConfig) -> list[Point]:
    """Every combination of the grid's values, the last axis (p) varying fastest."""
    return [Point(**dict(zip(AXES, combo, strict=True))) for combo in itertools.product(*(cfg.grid[a] for a in AXES))]


def problem_spec(cfg: SweepConfig, size: tuple[tuple[str, Any], ...]) -> str:
    """The problem spec string ``name:key=value,...`` of a grid size."""
    return cfg.problem + (":" + ",".join(f"{k}={v}" for k, v in size) if size else "")


def check_spec(cfg: SweepConfig, point: Point) -> CheckSpec:
    """The :class:`~verify.check.CheckSpec` of a grid point (no one-step test; outside conditions allowed)."""
    method = cfg.methods[point.method]
    return CheckSpec(theorem=method.theorem, problem=problem_spec(cfg, point.size), sketch=cfg.sketch, p=point.p,
                     r=point.r, runs=cfg.runs, iters=cfg.iters, gamma_factor=point.gamma_factor, lemma_states=0,
                     outside_conditions=True, params=method.params)


def prepare_point(cfg: SweepConfig, point: Point) -> Prepared:
    """Validate one grid point; a :class:`UserError` names the file and the grid point."""
    try:
        return prepare(check_spec(cfg, point))
    except UserError as exc:
        raise UserError(f"{cfg.path}: grid point ({point.describe()}): {exc}") from None


def curve_points(T: int) -> np.ndarray:
    """The t at which curves are stored: all of 0..T, or :data:`CURVE_POINTS` of them, evenly spaced."""
    if T + 1 <= CURVE_POINTS:
        return np.arange(T + 1)
    return np.unique(np.round(np.linspace(0, T, CURVE_POINTS)).astype(int))


def _overlay(prep: Prepared, trace: Any) -> dict[str, Any]:
    """The theorem's measure (median over runs) and its bound, or why no bound is drawn."""
    thm = prep.theorem
    if thm.measure not in OVERLAID_MEASURES:
        return {"measure": thm.measure, "note": f"{thm.id} bounds {thm.measure}, not an average of ||grad f||^2"}
    T = curve_points(trace.iters)
    T = T[T >= 1]
    values = {k: v.value for k, v in prep.constants.items()} | {"T": trace.iters}
    if prep.gamma is not None:
        values["gamma"] = prep.gamma
    shape = {"a": symbolic.value(thm.one_step.a, values, thm), "k": symbolic.value(thm.one_step.k, values, thm)}
    f_star = float(prep.problem.constants["f_star"].value)
    X = measure_values(thm.measure, trace, T, f_star, **shape)
    out: dict[str, Any] = {"measure": thm.measure, "T": T.tolist(), "median": json_safe(np.nanmedian(X, axis=0)),
                           "bound": None, "note": ""}
    if not prep.conditions_met:
        out["note"] = prep.reason or (f"gamma factor {prep.spec.gamma_factor} is outside the stepsize condition "
                                      f"of {thm.id}: no bound")
        return out
    out["bound"] = json_safe(symbolic.evaluate(thm.bound, values, T, thm))
    return out


def seed_key(spec: CheckSpec) -> str:
    """What a grid point's random numbers depend on (with the root seed): ``"sweep|" + spec.key()``."""
    return "sweep|" + spec.key()


def run_point(cfg: SweepConfig, point: Point, prep: Prepared) -> dict[str, Any]:
    """Run one grid point and return its record (JSON-ready)."""
    t0 = time.perf_counter()
    key = seed_key(prep.spec)
    seed = task_seed(cfg.seed, key)
    trace = run(prep.problem, Algorithm(prep.estimator, prep.projector, prep.stepsize), cfg.runs, cfg.iters,
                np.random.default_rng(seed))
    T = curve_points(cfg.iters)
    with np.errstate(invalid="ignore"):
        lower, median, upper = np.nanquantile(trace.grad_sq[:, T], [cfg.band[0], 0.5, cfg.band[1]], axis=0)
        full_median = np.nanmedian(trace.grad_sq, axis=0)
    return {
        "method": point.method, "theorem": prep.theorem.id, "estimator": prep.estimator.name,
        "params": dict(prep.spec.params), "problem": prep.spec.problem, "size": dict(point.size),
        "problem_params": {k: v for k, v in prep.problem.params.items() if isinstance(v, (int, float, str))},
        "sketch": cfg.sketch, "p": point.p, "r": point.r, "gamma_factor": point.gamma_factor,
        "gamma": prep.gamma, "gamma_max": prep.gamma_max, "conditions_met": prep.conditions_met,
        "runs": cfg.runs, "iters": cfg.iters, "root_seed": cfg.seed, "spawn_key": list(seed.spawn_key), "key": key,
        "grad_sq_initial": float(full_median[0]), "grad_sq_final_median": json_safe(full_median[-1:])[0],
        "grad_sq_min_median": json_safe([np.nanmin(full_median)])[0],
        "diverged_at": stats.first_nonfinite_step(trace.f),
        "band": list(cfg.band),
        "curve": {"T": T.tolist(), "median": json_safe(median), "lower": json_safe(lower), "upper": json_safe(upper)},
        "overlay": _overlay(prep, trace),
        "time_s": time.perf_counter() - t0,
    }


# ----------------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------------


def figure_slices(cfg: SweepConfig, fig: Figure, points: Sequence[Point]) -> dict[tuple[Any, ...], list[int]]:
    """Indices of ``points`` per slice: points sharing the values of every axis not in ``fig.curves``."""
    fixed = dict(fig.where)
    others = [a for a in AXES if a not in fig.curves]
    slices: dict[tuple[Any, ...], list[int]] = {}
    for i, pt in enumerate(points):
        if all(pt.value(a) == v for a, v in fixed.items()):
            slices.setdefault(tuple(pt.value(a) for a in others), []).append(i)
    return slices


def _positive(values: list[float | None]) -> np.ndarray:
    arr = np.array([np.nan if v is None else v for v in values], dtype=float)
    return np.where(arr > 0, arr, np.finfo(float).tiny)


def _plot_slice(cfg: SweepConfig, fig_spec: Figure, title: str, points: list[Point],
                records: list[dict[str, Any]]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13.0, 5.0), dpi=100)
    cmap = plt.get_cmap("tab10" if len(points) <= 10 else "viridis")
    for i, (pt, rec) in enumerate(zip(points, records, strict=True)):
        color = cmap(i if len(points) <= 10 else i / max(1, len(points) - 1))
        c = rec["curve"]
        low = rec["grad_sq_min_median"]
        label = f"{pt.describe(fig_spec.curves)}  (lowest median {low:.1e})" if low is not None else \
            f"{pt.describe(fig_spec.curves)}  (diverged)"
        ax.fill_between(c["T"], _positive(c["lower"]), _positive(c["upper"]), color=color, alpha=0.15, lw=0)
        ax.plot(c["T"], _positive(c["median"]), color=color, lw=1.6, label=label)
        ov = rec["overlay"]
        if "T" in ov:
            ax2.plot(ov["T"], _positive(ov["median"]), color=color, lw=1.6)
            if ov["bound"] is not None:
                ax2.plot(ov["T"], _positive(ov["bound"]), color=color, lw=1.4, ls="--")
    ax.set_yscale("log")
    ax.set_xlabel("iterations t")
    ax.set_ylabel(r"$\|\nabla f(W^t)\|_F^2$")
    ax.set_title(f"median over {cfg.runs} runs, band: quantiles {cfg.band[0]:g} to {cfg.band[1]:g}", fontsize=10)
    ax.legend(fontsize=7.5, loc="best")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    tops = [v for rec in records for v in rec["overlay"].get("median", []) if v is not None and v > 0]
    if tops:  # a bound that grows with T (SGD's weights) must not squash the measured curves
        ax2.set_ylim(top=100 * max(tops))
    ax2.set_xlabel("iterations T")
    measures = sorted({rec["overlay"]["measure"] for rec in records if "T" in rec["overlay"]})
    ax2.set_ylabel(" or ".join(LABELS[m] for m in measures) or "no average measure")
    ax2.set_title("theorem's measure (running average) vs its bound", fontsize=10)
    ax2.legend(handles=[Line2D([], [], color="k", lw=1.6, label="median of the running average"),
                        Line2D([], [], color="k", lw=1.4, ls="--", label="theorem bound (where it applies)")],
               fontsize=8, loc="best")
    notes = sorted({rec["overlay"]["note"] for rec in records if rec["overlay"].get("note")})
    if notes:
        ax2.text(0.01, 0.01, "\n".join(notes), transform=ax2.transAxes, fontsize=6.5, va="bottom", color="0.3")
    for a in (ax, ax2):
        a.grid(True, which="both", alpha=0.3)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _slice_title(cfg: SweepConfig, fig: Figure, values: tuple[Any, ...]) -> str:
    others = [a for a in AXES if a not in fig.curves]
    fixed = ", ".join(f"{a}={format_value(a, v)}" for a, v in zip(others, values, strict=True))
    return f"{cfg.problem}, {cfg.sketch} sketch: {fixed}" if fixed else f"{cfg.problem}, {cfg.sketch} sketch"


def _file_name(index: int, fig: Figure, cfg: SweepConfig, values: tuple[Any, ...]) -> str:
    others = [a for a in AXES if a not in fig.curves]
    raw = f"{index:02d}_by-{'-'.join(fig.curves)}_" + "_".join(
        f"{a}={format_value(a, v)}" for a, v in zip(others, values, strict=True))
    return re.sub(r"[^A-Za-z0-9_.=,-]+", "-", raw).rstrip("_") + ".png"


def write_plots(cfg: SweepConfig, points: Sequence[Point], records: Sequence[dict[str, Any]],
                out: Path) -> list[Path]:
    """One PNG per slice of every configured figure; returns the paths written."""
    (out / "plots").mkdir(parents=True, exist_ok=True)
    paths = []
    for fig in cfg.figures:
        for values, idx in figure_slices(cfg, fig, points).items():
            path = out / "plots" / _file_name(len(paths), fig, cfg, values)
            png = _plot_slice(cfg, fig, _slice_title(cfg, fig, values), [points[i] for i in idx],
                              [records[i] for i in idx])
            atomic_write(path, png)
            paths.append(path)
    return paths


# ----------------------------------------------------------------------------------------------------
# The command
# ----------------------------------------------------------------------------------------------------


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UserError("verify sweep draws figures and needs matplotlib: pip install '.[report]'") from None


@dataclass(frozen=True)
class SweepTask:
    """One grid point as a task (:mod:`verify.tasks`): ``run()`` returns its record (:func:`run_point`)."""

    cfg: SweepConfig
    point: Point
    prep: Prepared

    @property
    def key(self) -> str:
        """:func:`task_key` of the point."""
        return task_key(self.cfg, self.point)

    def run(self) -> dict[str, Any]:
        return run_point(self.cfg, self.point, self.prep)


def task_key(cfg: SweepConfig, point: Point) -> str:
    """Everything a point's record depends on: its seed key, the method's label, the root seed, the band."""
    return f"{seed_key(check_spec(cfg, point))}|method={point.method}|seed={cfg.seed}|band={list(cfg.band)!r}"


def _record(data: dict[str, Any]) -> dict[str, Any]:
    """A stored record, checked for every field of :data:`RECORD_FIELDS` (``ValueError`` names a missing one)."""
    require_fields(data, RECORD_FIELDS)
    return data


def _describe(task: SweepTask, rec: dict[str, Any]) -> str:
    low = rec["grad_sq_min_median"]
    return (f"{task.point.describe()} ({task.cfg.runs} runs x {task.cfg.iters} steps): lowest median "
            f"||grad f||^2 {'diverged' if low is None else format(low, '.2e')} ({rec['time_s']:.1f} s)")


def run_sweep(cfg: SweepConfig, out: Path, progress: TextIO | None = None, *, executor: str = "local",
              jobs: int | None = None, scheduler: str | None = None, resume: bool = False,
              blas_threads: int | None = DEFAULT_BLAS_THREADS) -> dict[str, Any]:
    """Validate every grid point, run them as tasks, write ``sweep.json`` and the plots; returns the payload.

    First the grid's size and the plan's peak memory are checked from the sizes alone
    (:func:`verify.resources.sweep_plan`): too many points, or a plan that does not fit in the available
    memory, is refused with a one-line :class:`UserError`; a large one is described on ``progress``.
    Every grid point still to run is prepared before any is run, so a bad point fails at once with a
    one-line :class:`UserError`.  ``blas_threads`` caps the BLAS/OpenMP threads of every task (0: no cap).
    Each finished point is stored in ``out/tasks`` at once; with ``resume`` the stored points are read back
    instead of run (:func:`verify.driver.drive`).  A point whose task fails (raises,
    or its worker dies) is left out of ``sweep.json`` and the plots and listed under ``"failed"`` by key.
    """
    _require_matplotlib()
    resources.check_grid_size(math.prod(len(cfg.grid[a]) for a in AXES))
    points = grid_points(cfg)
    resources.enforce(resources.sweep_plan([check_spec(cfg, pt) for pt in points], executor=executor, jobs=jobs,
                                           scheduler=scheduler), progress)
    report.ensure_writable(out)
    driven = drive([task_key(cfg, pt) for pt in points], lambda i: SweepTask(cfg, points[i],
                   prepare_point(cfg, points[i])), encode=dict, decode=_record, describe=_describe,
                   noun="grid points", run_dir=out, resume=resume, progress=progress, executor=executor,
                   jobs=jobs, scheduler=scheduler, blas_threads=blas_threads)
    done = [i for i, rec in enumerate(driven.results) if rec is not None]
    records = [driven.results[i] for i in done]
    meta = {**report.provenance(), "config": str(cfg.path), "seed": cfg.seed, "problem": cfg.problem,
            "sketch": cfg.sketch, "runs": cfg.runs, "iters": cfg.iters, "band": list(cfg.band), "axes": list(AXES)}
    payload: dict[str, Any] = {"meta": meta, "records": records,
                               "failed": [{"key": f.key, "message": f.message} for f in driven.failures]}
    atomic_write(out / "sweep.json", json.dumps(payload, indent=1, allow_nan=False).encode())
    payload["plots"] = [str(p) for p in write_plots(cfg, [points[i] for i in done], records, out)]
    payload["resumed"] = driven.resumed
    return payload


def _cmd_sweep(args: argparse.Namespace) -> int:
    out = Path(args.out)
    payload = run_sweep(load(args.config), out, progress=sys.stderr, executor=args.executor, jobs=args.jobs,
                        scheduler=args.scheduler, resume=args.resume, blas_threads=args.blas_threads)
    print(f"{len(payload['records'])} grid points: {out / 'sweep.json'}; {len(payload['plots'])} plots in "
          f"{out / 'plots'}")
    if payload["failed"]:
        print(f"{len(payload['failed'])} grid points failed (exit status 1), left out of the results: "
              + "; ".join(f["key"] for f in payload["failed"])
              + f"\nrerun with --resume --out {out} to run only the unfinished points")
        return 1
    return 0


def add_sweep_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``sweep`` subcommand to ``subparsers`` (of :func:`verify.cli.build_parser`); sets ``func``."""
    p = subparsers.add_parser("sweep", help="run a parameter grid and draw the paper's §7.1-style figures",
                              description="Run a parameter grid from a TOML file; write sweep.json and plots/*.png.")
    p.add_argument("config", help="the sweep's TOML file (see examples/sweep_paper.toml)")
    p.add_argument("--out", default="sweep-out", help="output folder (finished grid points go to OUT/tasks)")
    from verify.cli.args import add_executor_arguments

    add_executor_arguments(p, "grid points")
    p.set_defaults(func=_cmd_sweep)
    return p


__all__ = ["Point", "SweepTask", "add_sweep_parser", "check_spec", "grid_points", "load", "run_point", "run_sweep",
           "task_key", "write_plots"]

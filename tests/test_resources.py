"""Up-front resource checks: oversized requests are refused in seconds with one line and exit status 2,
large feasible ones are described on stderr, and the memory model stays an upper estimate of real peaks."""

from __future__ import annotations

import io
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pytest

from verify import resources, suite
from verify.check import CheckSpec, prepare
from verify.cli import main
from verify.errors import UserError
from verify.projection import estimate_expected_projection
from verify.sketch import make as make_sketch
from verify.tasks import Task

GiB = 2**30


def _refused(capsys, tmp_path, *argv):
    """Run the CLI in this process; return (status, stderr, seconds)."""
    argv = [*argv, "--out", str(tmp_path / "o")] if argv[0] == "run" else list(argv)
    t0 = time.perf_counter()
    code = main(argv)
    elapsed = time.perf_counter() - t0
    _, err = capsys.readouterr()
    return code, err, elapsed


@pytest.mark.parametrize(("argv", "needles"), [
    (["run", "gd-nc", "--iters", "1000000000"], ["per-step traces", "TiB", "allowed", "--iters"]),
    (["lambda", "--sketch", "gaussian", "--m", "100000", "--n", "100000", "--r", "2"],
     ["--m 100000 --n 100000", "100000 x 100000", "allowed"]),
    (["run", "gd-nc", "--seeds", "100000000"],  # 10^8 / 256 = 390625 blocks per gd-nc check
     [f"{len(suite.select(['gd-nc'])) * 390625} tasks", f"at most {resources.MAX_TASKS}", "--block-runs"]),
    (["run", "gd-nc", "--problem", "nonconvex-reg:m=1000,n=1000,N=10000"], ["problem data", "smaller problem"]),
    (["run", "gd-nc", "--sketch", "scaled-gaussian", "--problem", "isotropic-quadratic:m=50000,n=8"],
     ["lambda estimate", "closed form"]),
    (["run", "gd-nc", "--bound-scale", "1e308"], ["--bound-scale 1e+308", "(0, 1e+06]"]),
    (["run", "gd-nc", "--bound-scale", "0"], ["--bound-scale 0", "(0, 1e+06]"]),
])
def test_oversized_input_is_refused_at_once_with_one_line(capsys, tmp_path, argv, needles):
    code, err, elapsed = _refused(capsys, tmp_path, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert all(n in lines[0] for n in needles), lines[0]
    assert elapsed < 5, f"refusal took {elapsed:.1f} s"
    assert not (tmp_path / "o" / "results.json").exists()
    assert not (tmp_path / "o" / "tasks").exists()


def test_oversized_run_refused_by_the_console_script(tmp_path):
    """The whole command, imports included, ends with status 2 and one line (no MemoryError, no report)."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "verify.cli", "run", "gd-nc", "--iters", "1000000000",
                           "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr
    assert not (tmp_path / "o" / "index.md").exists()
    print(f"refused in {elapsed:.1f} s (imports included)")


def test_large_feasible_plan_is_described_on_stderr():
    specs = suite.select(["gd-nc"], iters=100_000)  # about 1.3 GiB of traces per 256-run block
    plan = resources.run_plan(specs)
    assert plan.tasks == len(specs) and plan.in_process
    err = io.StringIO()
    resources.enforce(plan, err, available=4 * GiB)
    line = err.getvalue()
    n = len(specs)
    assert line.startswith(f"verify: plan: {n} checks: {n} tasks") and line.count("\n") == 1
    assert "per-step traces" in line and "in this process" in line
    quiet = io.StringIO()
    resources.enforce(resources.run_plan(suite.select()), quiet, available=4 * GiB)  # the built-in suite
    assert quiet.getvalue() == ""
    with pytest.raises(UserError, match=r"allowed \(80% of the 1\.0 GiB available\): lower --iters"):
        resources.enforce(plan, None, available=GiB)


def test_workers_multiply_the_task_memory():
    specs = suite.select(["gd-nc"], iters=20_000)
    one = resources.run_plan(specs, jobs=1)
    two = resources.run_plan(specs, jobs=2)
    assert one.in_process and not two.in_process and two.workers == 2
    assert two.peak == pytest.approx(one.parent_bytes + 2 * (one.task_bytes + resources.PROCESS_BASE))
    remote = resources.run_plan(specs, executor="dask", scheduler="tcp://127.0.0.1:1")
    assert remote.remote and remote.peak == remote.parent_bytes


def test_task_count_and_trace_memory_are_exact_arithmetic():
    spec = CheckSpec("gd-nc", runs=1000, block_runs=100, iters=10**6)
    plan = resources.run_plan([spec])
    assert plan.tasks == 10 and plan.run_steps == 10**9
    cost = resources.task_cost(spec, 100, lemma=True)
    assert cost.parts["per-step traces (runs x iterations)"] == 8 * resources.TRACE_ARRAYS * 100 * (10**6 + 1)
    assert cost.largest()[0].startswith("per-step traces")


SPECS = [
    CheckSpec("gd-nc", "isotropic-quadratic", "gaussian", p=0.5, r=1, runs=256, iters=400),
    CheckSpec("ef21-pl", "federated-ls:M=8", "gaussian", p=0.5, r=2, runs=64, iters=50,
              params=(("compressor", "top-k:k=24"),)),
    CheckSpec("page-nc", "nonconvex-reg:m=16,n=16,N=500", "gaussian", p=0.5, r=2, runs=64, iters=50,
              params=(("q", 0.1), ("batch_prime", 8))),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.theorem)
def test_estimates_bound_the_measured_peaks(spec):
    """The model is an upper estimate of the heap peak (tracemalloc), and not wildly above it."""
    tracemalloc.start()
    try:
        prep = prepare(spec)
        _, built = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        Task(prep, 0, 1e-4).run()  # block 0: the runs and the one-step check
        _, ran = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    est = resources.task_cost(spec, spec.runs, lemma=True).total
    assert ran <= est <= 5 * ran, (ran, est)
    assert resources.prepare_cost(spec).total + resources.PROCESS_BASE >= built


def test_lambda_estimate_bounds_the_measured_peak():
    tracemalloc.start()
    try:
        estimate_expected_projection(make_sketch("scaled-gaussian"), 600, 2, 400, np.random.default_rng(0))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    est = resources.lambda_bytes(600, 2, 400)
    assert peak <= est <= 3 * peak, (peak, est)


def test_sweep_refuses_a_huge_grid_or_iteration_count(tmp_path, capsys):
    base = ('[sweep]\nproblem = "nonconvex-reg"\nruns = 4\niters = {iters}\n[grid]\n'
            'p = [{p}]\nsize = [{{ m = 4, n = 4, N = 64 }}]\nmethod = ["gd"]\n[methods.gd]\ntheorem = "gd-nc"\n'
            '[[figures]]\ncurves = ["p"]\n')
    many = ", ".join(str(round(0.05 + 0.9 * i / 20_000, 8)) for i in range(20_001))
    for name, iters, p, needle in (("huge.toml", 10**10, "0.5", "per-step traces"),
                                   ("wide.toml", 10, many, "20001 points")):
        path = tmp_path / name
        path.write_text(base.format(iters=iters, p=p))
        t0 = time.perf_counter()
        code = main(["sweep", str(path), "--out", str(tmp_path / "o")])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1 and needle in err, err
        assert time.perf_counter() - t0 < 10
    assert not (tmp_path / "o" / "sweep.json").exists()


def test_memory_available_is_read():
    allowed, avail = resources.budget()
    assert avail > 0 and allowed == int(resources.HEADROOM * avail)
    assert resources.fmt_bytes(1536 * 2**20) == "1.5 GiB" and resources.fmt_bytes(12) == "12 B"

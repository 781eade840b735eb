"""Executors: the same tasks give the same numbers in-process, on local processes and on Dask; a task
that raises or kills its worker is reported by key and the others finish."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest
from interrupt import comparable, timeless

from verify import executors, suite
from verify.check import conclude, prepare
from verify.cli import main
from verify.executors import Failure
from verify.tasks import Task

SPECS = suite.select(["gd-nc", "gd-pl"], runs=32, iters=20)
ALPHA, SEED = 1e-3, 5


@pytest.fixture(scope="module")
def serial() -> list[dict]:
    return timeless(suite.run_tasks(SPECS, ALPHA, SEED).results)


def test_two_processes_equal_one(serial):
    outcome = suite.run_tasks(SPECS, ALPHA, SEED, jobs=2)
    assert outcome.failures == []
    assert timeless(outcome.results) == serial


class _KillsItsWorker:
    """Unpickling this in a worker process ends that process at once (as an OOM kill would)."""

    def __reduce__(self):
        return os._exit, (3,)


def test_dead_worker_is_reported_by_key_and_the_others_finish(serial):
    alpha_each = ALPHA / len(SPECS)
    tasks = [Task(prepare(spec), SEED, alpha_each) for spec in SPECS[:4]]
    doomed = Task(dataclasses.replace(tasks[1].prep, problem=_KillsItsWorker()), SEED, alpha_each)
    tasks[1] = doomed
    outcomes = dict((task.key, out) for task, out in executors.run(tasks, jobs=2))
    assert set(outcomes) == {t.key for t in tasks}
    assert isinstance(outcomes[doomed.key], Failure) and "worker process died" in outcomes[doomed.key].message
    finished = [conclude(t.prep, SEED, alpha_each, [outcomes[t.key]]) for t in tasks if t is not doomed]
    assert timeless(finished) == [serial[0], serial[2], serial[3]]


def test_raising_task_is_reported_and_the_others_finish(tmp_path, monkeypatch, capsys):
    bad = SPECS[2].key()
    run_task = executors.run_task

    def flaky(task):
        if task.prep.spec.key() == bad:
            raise FloatingPointError("simulated failure\nsecond line")
        return run_task(task)

    monkeypatch.setattr(executors, "run_task", flaky)
    out = tmp_path / "D"
    code = main(["run", "gd-nc", "gd-pl", "--seeds", "32", "--iters", "20", "--out", str(out)])
    stdout, err = capsys.readouterr()
    assert code == 1
    failed = [line for line in err.splitlines() if "FAILED" in line]
    assert len(failed) == 1 and bad in failed[0] and "FloatingPointError: simulated failure" in failed[0]
    assert "Traceback" not in err and "second line" not in err
    assert f"1 of {len(SPECS)} tasks failed (exit status 1)" in stdout
    checks = json.loads((out / "results.json").read_text())["checks"]
    assert len(checks) == len(SPECS) - 1
    assert len(list((out / "tasks").glob("*.json"))) == len(SPECS) - 1

    calls = []  # fixed: --resume runs only the failed task
    monkeypatch.setattr(executors, "run_task", lambda task: calls.append(task.key) or run_task(task))
    assert main(["run", "gd-nc", "gd-pl", "--seeds", "32", "--iters", "20", "--out", str(out), "--resume"]) == 0
    assert len(calls) == 1 and bad in calls[0]
    assert len(json.loads((out / "results.json").read_text())["checks"]) == len(SPECS)


@pytest.mark.parametrize(("argv", "message"), [
    (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler needs --executor dask"),
    (["--jobs", "0"], "--jobs 0 must be >= 1"),
])
def test_bad_executor_options_are_one_line_errors(tmp_path, capsys, argv, message):
    code = main(["run", "gd-nc", "--seeds", "8", "--iters", "5", "--out", str(tmp_path), *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_dask_cluster_gives_the_local_numbers(tmp_path, capsys):
    distributed = pytest.importorskip("distributed")
    local, remote = tmp_path / "local", tmp_path / "dask"
    argv = ["run", "gd-nc", "gd-pl", "--seeds", "32", "--iters", "20", "--block-runs", "12"]  # 3 blocks a check
    assert main([*argv, "--out", str(local)]) == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        assert main([*argv, "--out", str(remote), "--executor", "dask", "--scheduler", address]) == 0

    assert comparable(remote) == comparable(local)


def test_unreachable_scheduler_is_a_one_line_error(tmp_path, capsys):
    dask = pytest.importorskip("dask")
    pytest.importorskip("distributed")
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        code = main(["run", "gd-nc", "--seeds", "8", "--iters", "5", "--out", str(tmp_path), "--executor", "dask",
                     "--scheduler", "tcp://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot connect to a Dask scheduler" in err and "Traceback" not in err


class _ThreadProbe:
    """A task that reports the BLAS thread pools of the process that runs it."""

    def __init__(self, key: str) -> None:
        self.key = key

    def run(self) -> list[int]:
        from threadpoolctl import threadpool_info

        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


@pytest.mark.parametrize("jobs", [1, 2])
def test_every_task_runs_with_one_blas_thread(jobs):
    pytest.importorskip("threadpoolctl")
    from threadpoolctl import threadpool_info

    before = threadpool_info()
    probes = [_ThreadProbe(f"probe-{i}") for i in range(2)]
    outcomes = [out for _, out in executors.run(probes, jobs=jobs)]
    assert len(outcomes) == 2 and all(out and set(out) == {1} for out in outcomes), outcomes
    assert threadpool_info() == before  # this process's pools are restored after an in-process task
    if jobs == 1:  # the cap is what is asked for, not a default that happens to be 1
        [(_, two)] = list(executors.run(probes[:1], jobs=1, blas_threads=2))
        # every BLAS pool runs exactly 2 threads, except a single-threaded one (a BLAS bundled by a package an
        # earlier test imported, which reports 1 thread before the cap too)
        default = [pool["num_threads"] for pool in before if pool["user_api"] == "blas"]
        assert all(t == 2 or t == n == 1 for t, n in zip(two, default, strict=True)), (two, default)
        [(_, free)] = list(executors.run(probes[:1], jobs=1, blas_threads=0))
        assert free == [pool["num_threads"] for pool in before if pool["user_api"] == "blas"]


def test_cli_run_with_jobs_1_uses_one_blas_thread(tmp_path, monkeypatch, capsys):
    pytest.importorskip("threadpoolctl")
    from threadpoolctl import threadpool_info

    from verify import tasks

    seen = []
    run = tasks.Task.run

    def probe(task):
        seen.append({pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"})
        return run(task)

    monkeypatch.setattr(tasks.Task, "run", probe)
    code = main(["run", "gd-nc", "gd-pl", "--seeds", "8", "--iters", "5", "--jobs", "1", "--out", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    assert len(seen) == len(suite.select(["gd-nc", "gd-pl"])) and all(s == {1} for s in seen), seen


def test_bad_blas_threads_is_a_one_line_error(tmp_path, capsys):
    code = main(["run", "gd-nc", "--seeds", "8", "--iters", "5", "--out", str(tmp_path), "--blas-threads", "-1"])
    err = capsys.readouterr().err
    assert code == 2 and "--blas-threads -1 must be >= 0" in err and len(err.strip().splitlines()) == 1

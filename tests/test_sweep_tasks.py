"""``verify sweep`` as tasks: resume after SIGKILL, local processes and Dask give the serial numbers, and a
failing grid point is reported by key while the others finish."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from interrupt import comparable, count_tasks, kill_after_first_task, task_files

from verify import executors
from verify.cli import main
from verify.tasks import TASKS

CONFIG = """
[sweep]
problem = "nonconvex-reg"
runs = 4
iters = 60
seed = 3

[grid]
r = [1, 2]
size = [{ m = 4, n = 4, N = 64 }]
method = ["gd", "sgd", "page"]

[methods.gd]

[methods.sgd]
params = { batch = 4 }

[methods.page]
params = { q = 0.0588, batch_prime = 4 }
"""
N_POINTS = 6

@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "sweep.toml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="module")
def serial(config, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("serial")
    assert main(["sweep", str(config), "--out", str(out)]) == 0
    assert len(task_files(out)) == N_POINTS
    return comparable(out, sweep=True)


def test_sigkill_then_resume_equals_uninterrupted(config, serial, tmp_path, monkeypatch, capsys):
    out = tmp_path / "D"
    finished = kill_after_first_task(["sweep", str(config), "--out", str(out)], out)
    assert 1 <= finished < N_POINTS
    assert not (out / "sweep.json").exists()
    for f in task_files(out):
        json.loads(f.read_text())

    calls = count_tasks(monkeypatch)
    capsys.readouterr()
    assert main(["sweep", str(config), "--out", str(out), "--resume"]) == 0
    assert f"resuming: {finished} of {N_POINTS} grid points already finished" in capsys.readouterr().err
    assert len(calls) == N_POINTS - finished
    assert comparable(out, sweep=True) == serial
    assert not list((out / TASKS).glob(".*.tmp"))


def test_two_processes_equal_one(config, serial, tmp_path):
    out = tmp_path / "J"
    assert main(["sweep", str(config), "--out", str(out), "--jobs", "2"]) == 0
    assert comparable(out, sweep=True) == serial


def test_dask_cluster_gives_the_serial_numbers(config, serial, tmp_path):
    distributed = pytest.importorskip("distributed")
    out = tmp_path / "K"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        assert main(["sweep", str(config), "--out", str(out), "--executor", "dask",
                     "--scheduler", cluster.scheduler_address]) == 0
    assert comparable(out, sweep=True) == serial


def test_failing_point_is_reported_by_key_and_the_others_finish(config, serial, tmp_path, monkeypatch, capsys):
    out = tmp_path / "F"
    doomed = serial["records"][2]
    key = f"{doomed['key']}|method={doomed['method']}|seed=3|band=[0.1, 0.9]"  # sweep.task_key
    calls = count_tasks(monkeypatch, fail_key=key)
    capsys.readouterr()
    assert main(["sweep", str(config), "--out", str(out)]) == 1
    cap = capsys.readouterr()
    assert f"FAILED task {key}: RuntimeError: injected failure" in cap.err
    assert "1 grid points failed" in cap.out and "--resume" in cap.out
    data = json.loads((out / "sweep.json").read_text())
    assert data["failed"] == [{"key": key, "message": "RuntimeError: injected failure"}]
    assert len(data["records"]) == N_POINTS - 1 and len(calls) == N_POINTS

    calls.clear()
    monkeypatch.setattr(executors, "run_task", lambda task: calls.append(task.key) or task.run())
    assert main(["sweep", str(config), "--out", str(out), "--resume"]) == 0
    assert calls == [key]  # only the failed point runs again
    assert comparable(out, sweep=True) == serial


def test_unusable_task_file_is_recomputed(config, serial, tmp_path, monkeypatch, capsys):
    out = tmp_path / "C"
    assert main(["sweep", str(config), "--out", str(out)]) == 0
    files = task_files(out)
    record = json.loads(files[0].read_text())
    del record["result"]["curve"]
    files[0].write_text(json.dumps(record))
    calls = count_tasks(monkeypatch)
    capsys.readouterr()
    assert main(["sweep", str(config), "--out", str(out), "--resume"]) == 0
    assert "lacks key 'curve'" in capsys.readouterr().err
    assert len(calls) == 1
    assert comparable(out, sweep=True) == serial


@pytest.mark.parametrize("argv, message", [
    (["--jobs", "0"], "--jobs 0 must be >= 1"),
    (["--scheduler", "tcp://127.0.0.1:9"], "--scheduler needs --executor dask"),
])
def test_bad_executor_options_are_one_line_errors(config, tmp_path, capsys, argv, message):
    assert main(["sweep", str(config), "--out", str(tmp_path / "E"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1

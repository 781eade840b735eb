"""Resuming an interrupted ``verify run``: task files are whole, finished tasks are not rerun, and the
final results equal those of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from verify import executors
from verify.cli import main
from verify.tasks import TASKS

ARGS = ("run", "gd-nc", "gd-pl", "--seeds", "32", "--iters", "20")
N_CHECKS = 10  # gd-nc and gd-pl entries of the built-in suite

# The CLI with every task slowed down, so that a kill lands while tasks remain.
SLOW_CLI = """
import sys, time
import verify.executors as ex
from verify.cli import main
run_task = ex.run_task
def slow(task):
    time.sleep(0.4)
    return run_task(task)
ex.run_task = slow
sys.exit(main(sys.argv[1:]))
"""


def comparable(path: Path) -> dict:
    """``results.json`` without what legitimately differs between runs: timings, date, commit."""
    data = json.loads(path.read_text())
    for rec in data["checks"]:
        rec.pop("timings")
    for key in ("date", "commit"):
        data["meta"].pop(key, None)
    return data


def task_files(out: Path) -> list[Path]:
    return sorted((out / TASKS).glob("*.json"))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("whole")
    assert main([*ARGS, "--out", str(out)]) == 0
    assert len(task_files(out)) == N_CHECKS
    return comparable(out / "results.json")


def _counting_run_task(monkeypatch) -> list[str]:
    calls: list[str] = []
    run_task = executors.run_task

    def counted(task):
        calls.append(task.key)
        return run_task(task)

    monkeypatch.setattr(executors, "run_task", counted)
    return calls


def test_sigkill_then_resume_equals_uninterrupted(tmp_path, uninterrupted, monkeypatch, capsys):
    out = tmp_path / "D"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_CLI, *ARGS, "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not task_files(out) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    finished = len(task_files(out))
    assert 1 <= finished < N_CHECKS
    assert not (out / "results.json").exists()
    for f in task_files(out):  # whatever the kill left is whole
        json.loads(f.read_text())

    calls = _counting_run_task(monkeypatch)
    capsys.readouterr()
    assert main([*ARGS, "--out", str(out), "--resume"]) == 0
    err = capsys.readouterr().err
    assert f"resuming: {finished} of {N_CHECKS} checks already finished" in err
    assert len(calls) == N_CHECKS - finished  # finished tasks are read back, not rerun
    assert comparable(out / "results.json") == uninterrupted
    for f in out.rglob("*.json"):
        json.loads(f.read_text())
    assert not list((out / TASKS).glob(".*.tmp"))
    assert len(task_files(out)) == N_CHECKS


def test_corrupt_task_files_are_recomputed(tmp_path, uninterrupted, monkeypatch, capsys):
    out = tmp_path / "D"
    assert main([*ARGS, "--out", str(out)]) == 0
    files = task_files(out)
    files[0].write_text(files[0].read_text()[:100])  # partial
    record = json.loads(files[1].read_text())
    del record["result"]["slack"]
    files[1].write_text(json.dumps(record))  # lacks a field
    (out / TASKS / ".leftover.json.abc.tmp").write_text("{")  # a killed write
    (out / "results.json").unlink()

    calls = _counting_run_task(monkeypatch)
    capsys.readouterr()
    assert main([*ARGS, "--out", str(out), "--resume"]) == 0
    err = capsys.readouterr().err
    assert f"ignoring task file {files[0]}" in err and f"ignoring task file {files[1]}" in err
    assert "lacks key 'slack'" in err
    assert len(calls) == 2
    assert comparable(out / "results.json") == uninterrupted
    assert not list((out / TASKS).glob(".*.tmp"))


def test_resume_with_other_options_reruns_everything(tmp_path, monkeypatch):
    out = tmp_path / "D"
    assert main([*ARGS, "--out", str(out)]) == 0
    calls = _counting_run_task(monkeypatch)
    # another seed, and another alpha (so another alpha share): no stored task matches
    assert main([*ARGS, "--out", str(out), "--resume", "--seed", "1"]) == 0
    assert len(calls) == N_CHECKS
    assert main([*ARGS, "--out", str(out), "--resume", "--alpha", "0.01"]) == 0
    assert len(calls) == 2 * N_CHECKS
    data = json.loads((out / "results.json").read_text())
    assert all(rec["alpha"] == pytest.approx(0.01 / N_CHECKS) for rec in data["checks"])


def test_tasks_of_a_smaller_family_are_not_reused(tmp_path, uninterrupted, monkeypatch):
    # the alpha share is alpha / (number of checks): the gd-nc-only run's tasks have another level
    out = tmp_path / "D"
    assert main(["run", "gd-nc", "--seeds", "32", "--iters", "20", "--out", str(out)]) == 0  # 5 of the 10 checks
    calls = _counting_run_task(monkeypatch)
    assert main([*ARGS, "--out", str(out), "--resume"]) == 0
    assert len(calls) == N_CHECKS
    assert comparable(out / "results.json") == uninterrupted

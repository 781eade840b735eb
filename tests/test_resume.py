"""Resuming an interrupted ``verify run``: task files are whole, finished tasks are not rerun, and the
final results equal those of an uninterrupted run."""

from __future__ import annotations

import json

import pytest
from interrupt import comparable, count_tasks, kill_after_first_task, task_files

from verify.cli import main
from verify.suite import select
from verify.tasks import TASKS

ARGS = ("run", "gd-nc", "gd-pl", "--seeds", "32", "--iters", "20")
N_CHECKS = len(select(["gd-nc", "gd-pl"]))  # gd-nc and gd-pl entries of the built-in suite


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("whole")
    assert main([*ARGS, "--out", str(out)]) == 0
    assert len(task_files(out)) == N_CHECKS
    return comparable(out)


def test_sigkill_then_resume_equals_uninterrupted(tmp_path, uninterrupted, monkeypatch, capsys):
    out = tmp_path / "D"
    finished = kill_after_first_task([*ARGS, "--out", str(out)], out)
    assert 1 <= finished < N_CHECKS
    assert not (out / "results.json").exists()
    for f in task_files(out):  # whatever the kill left is whole
        json.loads(f.read_text())

    calls = count_tasks(monkeypatch)
    capsys.readouterr()
    assert main([*ARGS, "--out", str(out), "--resume"]) == 0
    err = capsys.readouterr().err
    assert f"resuming: {finished} of {N_CHECKS} tasks already finished" in err
    assert len(calls) == N_CHECKS - finished  # finished tasks are read back, not rerun
    assert comparable(out) == uninterrupted
    for f in out.rglob("*.json"):
        json.loads(f.read_text())
    assert not list((out / TASKS).glob(".*.tmp"))
    assert len(task_files(out)) == N_CHECKS


def test_sigkill_between_blocks_then_resume_equals_uninterrupted(tmp_path, monkeypatch, capsys):
    """With --block-runs 12 every check is three tasks (12 + 12 + 8 runs); a kill between blocks of a check
    loses nothing finished, and the resumed check merges stored and fresh blocks into the uninterrupted result."""
    argv = [*ARGS, "--block-runs", "12"]
    whole = tmp_path / "whole"
    assert main([*argv, "--out", str(whole)]) == 0
    assert len(task_files(whole)) == 3 * N_CHECKS
    out = tmp_path / "D"
    finished = kill_after_first_task([*argv, "--out", str(out)], out)
    assert 1 <= finished < 3 * N_CHECKS
    calls = count_tasks(monkeypatch)
    capsys.readouterr()
    assert main([*argv, "--out", str(out), "--resume"]) == 0
    assert f"resuming: {finished} of {3 * N_CHECKS} tasks already finished" in capsys.readouterr().err
    assert len(calls) == 3 * N_CHECKS - finished and all("|block=" in key for key in calls)
    assert comparable(out) == comparable(whole)


def test_corrupt_task_files_are_recomputed(tmp_path, uninterrupted, monkeypatch, capsys):
    out = tmp_path / "D"
    assert main([*ARGS, "--out", str(out)]) == 0
    files = task_files(out)
    files[0].write_text(files[0].read_text()[:100])  # partial
    record = json.loads(files[1].read_text())
    del record["result"]["checkpoints"]
    files[1].write_text(json.dumps(record))  # lacks a field
    (out / TASKS / ".leftover.json.abc.tmp").write_text("{")  # a killed write
    (out / "results.json").unlink()

    calls = count_tasks(monkeypatch)
    capsys.readouterr()
    assert main([*ARGS, "--out", str(out), "--resume"]) == 0
    err = capsys.readouterr().err
    assert f"ignoring task file {files[0]}" in err and f"ignoring task file {files[1]}" in err
    assert "lacks key 'checkpoints'" in err
    assert len(calls) == 2
    assert comparable(out) == uninterrupted
    assert not list((out / TASKS).glob(".*.tmp"))


def test_resume_with_other_options_reruns_everything(tmp_path, monkeypatch):
    out = tmp_path / "D"
    assert main([*ARGS, "--out", str(out)]) == 0
    calls = count_tasks(monkeypatch)
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
    assert main(["run", "gd-nc", "--seeds", "32", "--iters", "20", "--out", str(out)]) == 0  # half of the checks
    calls = count_tasks(monkeypatch)
    assert main([*ARGS, "--out", str(out), "--resume"]) == 0
    assert len(calls) == N_CHECKS
    assert comparable(out) == uninterrupted

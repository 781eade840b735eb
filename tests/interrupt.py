"""Shared by the resume and executor tests of ``verify run`` and ``verify sweep``: kill a slowed CLI once it
has stored a task, count the tasks the executors run, and compare outputs without what legitimately differs
between runs (timings, date, commit)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from verify import executors
from verify.tasks import TASKS

# The CLI with every task slowed down, so that a kill lands while tasks remain.
SLOW_CLI = """
import sys, time
import verify.executors as ex
from verify.cli import main
run_task = ex.run_task
def slow(task):
    time.sleep(0.5)
    return run_task(task)
ex.run_task = slow
sys.exit(main(sys.argv[1:]))
"""


def comparable(out: Path, sweep: bool = False) -> dict:
    """``out/results.json`` (or ``out/sweep.json`` with ``sweep``) without timings, date and commit."""
    data = json.loads((out / ("sweep.json" if sweep else "results.json")).read_text())
    for rec in data["records" if sweep else "checks"]:
        rec.pop("time_s" if sweep else "timings")
    for key in ("date", "commit"):
        data["meta"].pop(key, None)
    return data


def timeless(results) -> list[dict]:
    """The records of :class:`~verify.check.CheckResult` objects without their timings."""
    return [{k: v for k, v in res.to_dict().items() if k != "timings"} for res in results]


def task_files(out: Path) -> list[Path]:
    """The finished task files of the run folder ``out``."""
    return sorted((out / TASKS).glob("*.json"))


def kill_after_first_task(argv: list[str], out: Path, timeout: float = 120.0) -> int:
    """Run ``verify ARGV`` slowed down in a subprocess, SIGKILL it once a task file exists; return how many
    task files it left (the caller asserts that some, not all, tasks finished)."""
    proc = subprocess.Popen([sys.executable, "-c", SLOW_CLI, *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while not task_files(out) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    return len(task_files(out))


def count_tasks(monkeypatch, fail_key: str | None = None) -> list[str]:
    """Make the executors record the key of every task they run (and raise for ``fail_key``); returns the
    list the keys go to."""
    calls: list[str] = []
    run_task = executors.run_task

    def counted(task):
        calls.append(task.key)
        if task.key == fail_key:
            raise RuntimeError("injected failure")
        return run_task(task)

    monkeypatch.setattr(executors, "run_task", counted)
    return calls

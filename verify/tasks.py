"""Tasks and the task store: one finished task = one file.

A task is anything with a ``key`` (a string naming everything its result depends on) and a ``run()``
method; executors (:mod:`verify.executors`) call :func:`run_task` on it in whatever process they use.
Two kinds exist: :class:`Task`, one block of runs of one check of ``verify run`` (its record is a
:class:`~verify.blocks.BlockResult`; :func:`verify.suite.run_tasks` concludes a check once all its blocks
are in), and :class:`verify.sweep.SweepTask`, one grid point of ``verify sweep``.

As soon as a task finishes, its JSON record is written to ``RUN_DIR/tasks/<sha256 of key>.json`` through a
temporary file and an atomic rename (:func:`verify.report.atomic_write`), so a killed run leaves only whole
files.  ``--resume`` reads back the files whose stored key matches and runs the rest; a file that is
unreadable, not JSON, or lacks a field is ignored (and said so) and its task is run again
(:mod:`verify.driver`).

The random numbers of a task depend on the root seed and its key only (:func:`verify.seeding.task_seed`),
so a task gives the same result on 1 or N workers, locally or on Dask.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from verify.blocks import BlockResult
from verify.check import CheckSpec, Prepared, blocks, run_block
from verify.jsonio import atomic_write, json_default

TASKS = "tasks"


@dataclass(frozen=True)
class Task:
    """One block of runs of one check (:mod:`verify.blocks`): ``prep`` (validated, constants instantiated),
    the root seed, the check's share ``alpha_each`` of the family-wise level and the block ``index``."""

    prep: Prepared
    root_seed: int
    alpha_each: float
    index: int = 0

    @property
    def key(self) -> str:
        """:func:`block_key` of this block."""
        return block_key(self.prep.spec, self.root_seed, self.alpha_each, self.index)

    @property
    def label(self) -> str:
        """A short human-readable name of the check, for progress lines."""
        s = self.prep.spec
        return (f"{s.theorem} on {s.problem} with {s.sketch} sketches "
                f"(p={s.p}, r={s.r}, {s.runs} runs x {s.iters} steps)")

    @property
    def part(self) -> str:
        """Which runs of the check this task makes: ``"block 2/3: runs 16-31"``, or ``""`` for a single block."""
        ranges = blocks(self.prep.spec)
        start, count = ranges[self.index]
        return "" if len(ranges) == 1 else f"block {self.index + 1}/{len(ranges)}: runs {start}-{start + count - 1}"

    def run(self) -> BlockResult:
        """Run the block; the same task always gives the same numbers."""
        return run_block(self.prep, self.root_seed, self.index)


def task_key(spec: CheckSpec, root_seed: int, alpha_each: float) -> str:
    """The key of the check ``spec`` under ``root_seed`` with level ``alpha_each``: ``spec.key()`` plus what
    else changes its record (bound scale, conditions flag, seed, level)."""
    return (f"{spec.key()}|bound_scale={spec.bound_scale!r}|outside_conditions={spec.outside_conditions}"
            f"|seed={root_seed}|alpha_each={alpha_each!r}")


def block_key(spec: CheckSpec, root_seed: int, alpha_each: float, index: int) -> str:
    """The key of block ``index`` of that check: :func:`task_key`, the block size and the block's index."""
    return f"{task_key(spec, root_seed, alpha_each)}|block_runs={spec.block_runs}|block={index}"


def run_task(task: Any) -> Any:
    """Run one task (in whatever process calls it): ``task.run()``."""
    return task.run()


def require_fields(record: dict[str, Any], fields: Sequence[str]) -> None:
    """Raise ``ValueError`` naming the first of ``fields`` that a stored record lacks."""
    missing = [k for k in fields if k not in record]
    if missing:
        raise ValueError(f"the record lacks key {missing[0]!r}")


def file_name(key: str) -> str:
    """``<sha256 of key>.json``."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest() + ".json"


class TaskStore:
    """The finished tasks of a run, one JSON file each under ``run_dir/tasks``.

    Each file is ``{"key": task key, "result": the task's JSON record}``.
    """

    def __init__(self, run_dir: Path) -> None:
        self.folder = Path(run_dir) / TASKS

    def path(self, key: str) -> Path:
        """Where the task named ``key`` is stored."""
        return self.folder / file_name(key)

    def save(self, key: str, record: dict[str, Any]) -> None:
        """Write the JSON record of a finished task atomically (temporary file + rename)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        data = json.dumps({"key": key, "result": record}, allow_nan=False, default=json_default)
        atomic_write(self.path(key), data.encode("utf-8"))

    def load(self, key: str, decode: Callable[[dict[str, Any]], Any], warn: TextIO | None = None) -> Any | None:
        """``decode(record)`` of the stored task ``key``, or None if there is none or the file is unusable
        (said on ``warn``); ``decode`` raises ``ValueError`` on a record it cannot use."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("result"), dict):
                raise ValueError("expected an object with keys 'key' and 'result'")
            if data.get("key") != key:
                raise ValueError("its key does not match the task")
            return decode(data["result"])
        except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:
            if warn is not None:
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                print(f"verify: ignoring task file {path} ({reason}); the task runs again", file=warn, flush=True)
            return None

    def remove_temporaries(self) -> int:
        """Delete temporary files left by a killed run (never read as results); returns how many."""
        if not self.folder.is_dir():
            return 0
        leftovers = [p for p in self.folder.glob(".*.tmp") if p.is_file()]
        for p in leftovers:
            p.unlink(missing_ok=True)
        return len(leftovers)

"""Run a list of keyed tasks with a task store: resume, run the rest on an executor, save each as it finishes.

This is the loop shared by ``verify run`` (one task per block of runs of a check, :func:`verify.suite.run_tasks`) and
``verify sweep`` (one task per grid point, :func:`verify.sweep.run_sweep`):

1. with ``resume``, delete the temporary files a killed run left and read back every stored task whose key
   matches (:meth:`~verify.tasks.TaskStore.load`; an unusable file is reported and its task runs again);
2. build the tasks still to run, all of them before any runs, so that bad input fails before any work;
3. run them on the executor (:func:`verify.executors.run`); store each record as soon as its task
   finishes; a task that raises or whose worker dies becomes a :class:`~verify.executors.Failure` and the
   others go on.

The outcome lists the results in the order of the keys (None where a task failed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from verify import executors
from verify.executors import Failure
from verify.tasks import TaskStore


@dataclass(frozen=True)
class Driven:
    """The results in key order (None for a failed task), the failures in key order, how many were resumed."""

    results: list[Any]
    failures: list[Failure]
    resumed: int


def drive(keys: Sequence[str], build: Callable[[int], Any], *, encode: Callable[[Any], dict[str, Any]],
          decode: Callable[[dict[str, Any]], Any], describe: Callable[[Any, Any], str], noun: str,
          run_dir: Path | None = None, resume: bool = False, progress: TextIO | None = None,
          executor: str = "local", jobs: int | None = None, scheduler: str | None = None,
          on_result: Callable[[int, Any], None] | None = None,
          blas_threads: int | None = executors.DEFAULT_BLAS_THREADS) -> Driven:
    """Run the tasks named by ``keys`` (see the module docstring).

    Parameters
    ----------
    keys : sequence of str
        The task keys, in the order of the results; ``build(i).key`` must equal ``keys[i]``.
    build : callable
        ``build(i)`` makes task ``i`` (validating its input: a :class:`~verify.errors.UserError` stops
        everything before any task runs); called only for the tasks not resumed.
    encode, decode : callable
        Result to JSON record and back; ``decode`` raises ``ValueError`` on a record it cannot use.
    describe : callable
        ``describe(task, result)``: the progress line of a finished task.
    noun : str
        What a task is, plural, for the progress line of a resumed run (``"checks"``, ``"grid points"``).
    run_dir : Path, optional
        The run folder; finished tasks go to ``run_dir/tasks``.  None: nothing is stored.
    resume : bool
        Reuse the stored tasks of ``run_dir``.
    progress : text stream, optional
        Progress lines, and one line per failed task naming its key.
    executor, jobs, scheduler, blas_threads
        Passed to :func:`verify.executors.run` (``blas_threads``: BLAS/OpenMP threads per task, default 1).
    on_result : callable, optional
        ``on_result(i, result)`` for every result ``i`` (in the order of ``keys``), resumed ones first, each
        before its progress line.
    """
    executors.validate(executor, jobs, scheduler, blas_threads)
    store = TaskStore(run_dir) if run_dir is not None else None
    slots: list[Any] = [None] * len(keys)
    if store is not None and resume:
        store.remove_temporaries()
        slots = [store.load(key, decode, warn=progress) for key in keys]
    resumed = sum(r is not None for r in slots)
    if progress is not None and resume:
        print(f"resuming: {resumed} of {len(keys)} {noun} already finished in {store.folder if store else '-'}",
              file=progress, flush=True)
    todo = [build(i) for i, r in enumerate(slots) if r is None]
    index = {key: i for i, key in enumerate(keys)}
    if on_result is not None:
        for i, res in enumerate(slots):
            if res is not None:
                on_result(i, res)
    done, failures = resumed, []
    for task, out in executors.run(todo, executor=executor, jobs=jobs, scheduler=scheduler,
                                   blas_threads=blas_threads):
        done += 1
        if isinstance(out, Failure):
            failures.append(out)
            if progress is not None:
                print(f"[{done}/{len(keys)}] FAILED task {out.key}: {out.message}", file=progress, flush=True)
            continue
        if store is not None:
            store.save(task.key, encode(out))
        slots[index[task.key]] = out
        if on_result is not None:
            on_result(index[task.key], out)
        if progress is not None:
            print(f"[{done}/{len(keys)}] {describe(task, out)}", file=progress, flush=True)
    failures.sort(key=lambda f: index[f.key])
    return Driven(slots, failures, resumed)

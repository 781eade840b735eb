"""Where tasks run: in this process, in local worker processes, or on a Dask cluster.

Every executor takes tasks (objects with a ``key`` and a ``run()`` method, :mod:`verify.tasks`: a check
or a sweep's grid point) and yields ``(task, outcome)`` pairs **as tasks finish** (in no particular order),
where ``outcome`` is what ``task.run()`` returned or a :class:`Failure` (the task raised, or the worker
running it died).  A failure never stops the other tasks.
The numbers do not depend on the executor: a task's seed depends on its key only.

BLAS/OpenMP threads.  Every task runs with its process's BLAS and OpenMP pools capped at ``blas_threads``
threads (default :data:`DEFAULT_BLAS_THREADS` = 1, through :func:`threadpoolctl.threadpool_limits`, restored
after the task), in this process as in the workers: the tasks are small batched matrix products, which
run faster on one thread than on a pool that competes with the other workers for the cores.  N workers
therefore use about N cores.  ``blas_threads = 0`` leaves the libraries' own defaults.

- ``local`` with ``jobs = 1``: in this process, one task after the other.
- ``local`` with ``jobs = N > 1``: a :class:`~concurrent.futures.ProcessPoolExecutor` of N fresh
  (``spawn``) processes; ``OMP_NUM_THREADS`` etc. are set to ``blas_threads`` before numpy loads in them,
  and the thread cap above applies too.
  If a worker dies (killed, out of memory) the pool breaks; the unfinished tasks run again in a fresh
  pool, and if that one breaks too, each remaining task runs alone, so the one that kills its worker is
  named and the others finish.
- ``dask``: the same tasks on a Dask distributed cluster (``scheduler`` = its address, e.g.
  ``tcp://10.0.0.5:8786``), or on a :class:`distributed.LocalCluster` on 127.0.0.1 when no address is
  given.  The thread cap above applies inside each task on the Dask workers too.  A task whose workers keep
  dying fails with Dask's ``KilledWorker``.
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from verify.errors import UserError
from verify.tasks import run_task

EXECUTORS = ("local", "dask")
#: BLAS/OpenMP threads per task unless asked otherwise (0: the libraries' defaults).
DEFAULT_BLAS_THREADS = 1
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
               "NUMEXPR_NUM_THREADS")


@dataclass(frozen=True)
class Failure:
    """A task that did not finish: its key and one line saying why."""

    key: str
    message: str


Task = Any  # anything with ``key`` and ``run()``
Outcome = tuple[Task, Any]


def describe(exc: BaseException) -> str:
    """One line for an exception: its type and the first line of its message."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def blas_limit(threads: int | None) -> contextlib.AbstractContextManager[Any]:
    """A context in which the BLAS and OpenMP pools of this process use at most ``threads`` threads.

    :func:`threadpoolctl.threadpool_limits` of the libraries loaded now (OpenBLAS, MKL, BLIS, OpenMP); the
    previous limits come back on exit.  ``threads`` 0 or None: no limit (the libraries' defaults).  Without
    threadpoolctl installed (it is a dependency of this package) nothing is limited.
    """
    if not threads:
        return contextlib.nullcontext()
    try:
        import threadpoolctl
    except ImportError:
        return contextlib.nullcontext()
    return threadpoolctl.threadpool_limits(limits=threads)


def run_limited(task: Task, threads: int | None = DEFAULT_BLAS_THREADS) -> Any:
    """``run_task(task)`` with the BLAS/OpenMP pools capped at ``threads`` (:func:`blas_limit`); what the
    executors call in whatever process runs the task."""
    with blas_limit(threads):
        return run_task(task)


def in_process(tasks: Iterable[Task], blas_threads: int | None = DEFAULT_BLAS_THREADS) -> Iterator[Outcome]:
    """Run the tasks here, one after the other, each with at most ``blas_threads`` BLAS/OpenMP threads;
    a task that raises becomes a :class:`Failure`."""
    for task in tasks:
        try:
            yield task, run_limited(task, blas_threads)
        except Exception as exc:  # noqa: BLE001 - a failing task is reported, the others run
            yield task, Failure(task.key, describe(exc))


def _cap_threads(threads: int | None = DEFAULT_BLAS_THREADS) -> None:
    """Worker initializer: ``threads`` BLAS/OpenMP threads per worker process (no cap for 0 or None)."""
    if not threads:
        return
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    with contextlib.suppress(ImportError):
        import threadpoolctl

        threadpoolctl.threadpool_limits(threads)


@contextlib.contextmanager
def _thread_environment(threads: int | None) -> Iterator[None]:
    """Set the thread variables to ``threads`` while worker processes start (they inherit them before
    importing numpy); unchanged for 0 or None."""
    saved = {var: os.environ.get(var) for var in THREAD_VARS}
    if threads:
        os.environ.update({var: str(threads) for var in THREAD_VARS})
    try:
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def _pool_round(tasks: Sequence[Task], workers: int, lost: list[Task],
                blas_threads: int | None = DEFAULT_BLAS_THREADS) -> Iterator[Outcome]:
    """Run ``tasks`` on a fresh pool; tasks lost to a dead worker are appended to ``lost``, not yielded."""
    with _thread_environment(blas_threads):
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_cap_threads, initargs=(blas_threads,))
        try:
            futures = {pool.submit(run_limited, task, blas_threads): task for task in tasks}
        except BrokenProcessPool:
            pool.shutdown(wait=False, cancel_futures=True)
            lost.extend(tasks)
            return
    try:
        for fut in as_completed(futures):
            task = futures[fut]
            try:
                res = fut.result()
            except BrokenProcessPool:
                lost.append(task)
                continue
            except Exception as exc:  # noqa: BLE001 - a failing task is reported, the others run
                yield task, Failure(task.key, describe(exc))
                continue
            yield task, res
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def local_processes(tasks: Sequence[Task], jobs: int,
                    blas_threads: int | None = DEFAULT_BLAS_THREADS) -> Iterator[Outcome]:
    """Run the tasks on ``jobs`` local worker processes with ``blas_threads`` BLAS/OpenMP threads each (see
    the module docstring for dead workers)."""
    order = {task.key: i for i, task in enumerate(tasks)}
    pending = list(tasks)
    for _ in range(2):
        lost: list[Task] = []
        yield from _pool_round(pending, min(jobs, len(pending)), lost, blas_threads)
        pending = sorted(lost, key=lambda t: order[t.key])
        if not pending:
            return
    for task in pending:  # alone, so that a task that kills its worker is the only one lost
        lost = []
        yield from _pool_round([task], 1, lost, blas_threads)
        if lost:
            yield task, Failure(task.key, "its worker process died (killed, crashed or out of memory)")


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise UserError("--executor dask needs dask.distributed; install it with "
                        "pip install 'dask[distributed]' (or the project's 'dask' extra)") from None
    return distributed


def dask_cluster(tasks: Sequence[Task], scheduler: str | None, workers: int | None = None,
                 blas_threads: int | None = DEFAULT_BLAS_THREADS) -> Iterator[Outcome]:
    """Run the tasks on the Dask scheduler at ``scheduler``, or on a loopback LocalCluster of ``workers``;
    each task with at most ``blas_threads`` BLAS/OpenMP threads."""
    import asyncio

    distributed = _distributed()
    with contextlib.ExitStack() as stack:
        if scheduler is None:
            cluster = stack.enter_context(distributed.LocalCluster(
                n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                host="127.0.0.1", dashboard_address=None))
            target: Any = cluster
        else:
            target = scheduler
        try:
            client = stack.enter_context(distributed.Client(target))  # distributed.comm.timeouts.connect
        except (OSError, TimeoutError, ValueError) as exc:
            raise UserError(f"--scheduler {scheduler!r}: cannot connect to a Dask scheduler "
                            f"({describe(exc)})") from None
        futures = {client.submit(run_limited, task, blas_threads,
                                 key="verify-" + hashlib.sha256(task.key.encode()).hexdigest(), pure=False): task
                   for task in tasks}
        for fut in distributed.as_completed(futures):
            task = futures[fut]
            try:
                res = fut.result()
            except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001 - reported, the others run
                yield task, Failure(task.key, describe(exc))
                continue
            yield task, res


def validate(executor: str = "local", jobs: int | None = None, scheduler: str | None = None,
             blas_threads: int | None = DEFAULT_BLAS_THREADS) -> None:
    """Raise :class:`UserError` (one line) for executor options that :func:`run` cannot use."""
    if executor not in EXECUTORS:
        raise UserError(f"--executor {executor!r} is not known; use one of {', '.join(EXECUTORS)}")
    if jobs is not None and jobs < 1:
        raise UserError(f"--jobs {jobs} must be >= 1")
    if blas_threads is not None and blas_threads < 0:
        raise UserError(f"--blas-threads {blas_threads} must be >= 0 (0: the BLAS libraries' own default)")
    if scheduler is not None and executor != "dask":
        raise UserError("--scheduler needs --executor dask")
    if executor == "dask":
        if jobs is not None and scheduler is not None:
            raise UserError("--jobs sets the number of local workers; with --scheduler the cluster's workers "
                            "run the tasks, so leave --jobs out")
        _distributed()  # fail before any work when dask is missing


def run(tasks: Sequence[Task], executor: str = "local", jobs: int | None = None,
        scheduler: str | None = None, blas_threads: int | None = DEFAULT_BLAS_THREADS) -> Iterator[Outcome]:
    """Dispatch to :func:`in_process`, :func:`local_processes` or :func:`dask_cluster`.

    ``jobs`` is the number of local processes (default 1, i.e. in this process) or, for ``dask`` without a
    ``scheduler``, the number of LocalCluster workers (default: the number of CPUs).  ``blas_threads`` caps the
    BLAS/OpenMP threads of every task, wherever it runs (default 1; 0: no cap).
    """
    validate(executor, jobs, scheduler, blas_threads)
    if executor == "dask":
        return dask_cluster(tasks, scheduler, jobs, blas_threads)
    if not tasks:
        return iter(())
    if (jobs or 1) == 1:
        return in_process(tasks, blas_threads)
    return local_processes(tasks, jobs, blas_threads)


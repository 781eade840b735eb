"""What every ``verify`` sub-command shares: the parser class, the number types and the exit codes.

One place, so that ``verify run``, ``verify sweep``, ``verify compare``, ``verify assumptions``, ``verify pep``
and ``verify finetune`` (and their ``python -m`` entry points) refuse bad input the same way: one line on
stderr and exit status 2 (:class:`Parser` raises :class:`~verify.errors.UserError`, which the entry point
prints).  This module imports nothing of the package but :mod:`verify.errors` and the executors' names.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

import numpy as np

from verify.errors import UserError

EXIT_OK, EXIT_VIOLATED, EXIT_USAGE = 0, 1, 2
#: A closed pipe on stdout or stderr: 128 + SIGPIPE, as a shell reports a command that SIGPIPE ended.
EXIT_BROKEN_PIPE = 141


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one-line :class:`~verify.errors.UserError` (exit status 2)."""

    def error(self, message: str) -> None:  # one line, exit 2
        raise UserError(f"{self.prog}: {message}")


def integer(name: str):
    """An argparse type: an integer, or a one-line error naming the option and the text."""
    def parse(text: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {text!r}") from None
    return parse


def real(name: str):
    """An argparse type: a finite number, or a one-line error naming the option and the text."""
    def parse(text: str) -> float:
        try:
            x = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not np.isfinite(x):
            raise argparse.ArgumentTypeError(f"{name} must be finite, got {text!r}")
        return x
    return parse


def add_executor_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """Add ``--resume``, ``--jobs``, ``--executor`` and ``--scheduler``, the same for ``run`` and ``sweep``.

    ``what`` names the tasks in the help text (``"checks"``, ``"grid points"``); the values are checked by
    :func:`verify.executors.validate`.
    """
    from verify.executors import DEFAULT_BLAS_THREADS, EXECUTORS

    parser.add_argument("--resume", action="store_true",
                        help=f"reuse the finished {what} in OUT/tasks of an interrupted run with the same options")
    parser.add_argument("--jobs", type=integer("--jobs"), metavar="N",
                        help="local worker processes (default 1: in this process); with --executor dask and no "
                             "--scheduler, the number of LocalCluster workers (default: the number of CPUs)")
    parser.add_argument("--executor", choices=EXECUTORS, default="local",
                        help="local processes (default) or a Dask distributed cluster")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (default: a LocalCluster on "
                             "127.0.0.1)")
    parser.add_argument("--blas-threads", type=integer("--blas-threads"), default=DEFAULT_BLAS_THREADS,
                        metavar="N",
                        help=f"BLAS/OpenMP threads per task, in every worker and in this process with --jobs 1 "
                             f"(default {DEFAULT_BLAS_THREADS}; 0: the libraries' own default, usually one per core)")




def standalone(prog: str, configure: Callable[[argparse.ArgumentParser], argparse.ArgumentParser],
               run: Callable[[argparse.Namespace], int], argv: Sequence[str] | None, description: str = "") -> int:
    """The ``python -m verify.X`` entry point of a sub-command: parse with :class:`Parser`, run, and print a
    :class:`~verify.errors.UserError` on one line with exit status :data:`EXIT_USAGE`."""
    try:
        return run(configure(Parser(prog=prog, description=description)).parse_args(argv))
    except UserError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE

"""``verify assumptions MODULE:FACTORY [--sketch NAME --r R --p P] [--compressor SPEC] [--seed N] [--json|--verbose]``.

Wiring: ``add_parser(subparsers)`` adds the sub-command to the ``verify`` parser and sets
``func=run_command``.  ``run_command(args)`` returns 0 whatever the statuses (the command reports); bad input
raises :class:`~verify.errors.UserError`, which ``verify.cli.main`` prints on one line with exit status 2.
:func:`main` does the same stand-alone (``python -m verify.assumptions``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from verify import sketch as sketch_mod
from verify.assumptions.loading import load_problem
from verify.assumptions.render import render_json, render_table
from verify.assumptions.run import check_assumptions
from verify.cli.args import EXIT_OK

__all__ = ["add_parser", "main", "run_command"]


HELP = "check which of the paper's assumptions hold on a problem (MODULE:FACTORY or builtin:NAME[:k=v,...])"


def _int(name: str, low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{name} must be >= {low}, got {value}")
        return value
    return parse


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--p must be a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"--p must be in [0, 1], got {text!r}")
    return value


def configure(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the command's arguments to ``parser``."""
    parser.add_argument("problem", metavar="MODULE:FACTORY",
                        help="a factory returning an object with shape, f(W), grad(W) (e.g. "
                             "examples.my_problem:make_problem), or builtin:NAME[:key=value,...]")
    parser.add_argument("--sketch", default=sketch_mod.DEFAULT,
                        help=f"sketch distribution ({', '.join(sketch_mod.names())})")
    parser.add_argument("--r", type=_int("--r", 1), default=1, help="sketch rank (1 <= r <= min(m, n))")
    parser.add_argument("--p", type=_probability, default=0.5, help="probability of the left sketch")
    parser.add_argument("--compressor", default=None, help="compressor spec, e.g. rand-k:k=4, top-k:k=2, dither:s=2")
    parser.add_argument("--seed", type=_int("--seed", 0), default=0, help="root seed")
    parser.add_argument("--json", action="store_true", help="print the JSON report")
    parser.add_argument("--verbose", action="store_true",
                        help="also print how each assumption was tested and with what confidence")
    parser.set_defaults(func=run_command)
    return parser


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``assumptions`` to the ``verify`` sub-commands (``func`` = :func:`run_command`)."""
    configure(subparsers.add_parser("assumptions", help=HELP, description=HELP))


def run_command(args: argparse.Namespace) -> int:
    """Load the problem, run the checks, print the table (methods with ``--verbose``) or ``--json``; 0 whatever
    the statuses.

    Raises
    ------
    UserError
        Bad input: problem not importable, factory missing or not callable or raising, an object without
        ``shape``/``f``/``grad``, an unknown sketch, ``--r`` out of range, a bad compressor spec.
    """
    problem = load_problem(args.problem)
    report = check_assumptions(problem, sketch=args.sketch, r=args.r, p=args.p, compressor=args.compressor,
                               seed=args.seed)
    print(render_json(report) if args.json else render_table(report, verbose=args.verbose))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m verify.assumptions ...``; returns the exit status."""
    from verify.cli.args import standalone

    return standalone("verify assumptions", configure, run_command, argv, HELP)

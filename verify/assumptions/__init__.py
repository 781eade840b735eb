"""Assumption checks on a new problem (issue 4): which of the paper's assumptions hold, and which theorems apply.

``check_assumptions(problem)`` returns an :class:`AssumptionReport`; the CLI is
``verify assumptions MODULE:FACTORY [--sketch NAME --r R --p P] [--compressor SPEC] [--seed N] [--json]``
(:func:`add_parser`, :func:`run_command`).  One module per job:

============================ ==================================================================
module                       job
============================ ==================================================================
``adapter``                  user object or batched Problem → validated batched oracles
``loading``                  ``MODULE:FACTORY`` / ``builtin:SPEC`` → object
``landscape``                scale, sampling region, solver estimate of ``f*``
``curvature``                secant ratios, finite-difference Hessian power iteration, jump search
``oracle``                   ``oracle``: grad vs finite differences, unbiasedness, averaging
``smoothness`` ``pl``        ``smooth``, ``pl``
``stationary``               search for stationary points (minimising ``½‖∇f‖²``) for ``pl``
``convexity`` ``lipschitz``  ``convex``, ``lipschitz``
``stochastic``               ``expected_smoothness``, ``bounded_variance``, ``mean_square_smooth``
``compressor``               ``compressor``
``projection``               ``positive_expected_projection``
``bounded_below``            ``lower_bounded`` (and ``Delta0``)
``federated``                ``federated`` (``M``, ``L_max``, ``L_tilde``, ``Delta_inf``)
``applicability``            theorems whose assumptions hold, and their constants
``run`` ``render`` ``command`` orchestration, table / JSON, CLI
============================ ==================================================================
"""

from verify.assumptions.adapter import OracleError, Oracles, adapt
from verify.assumptions.command import add_parser, main, run_command
from verify.assumptions.findings import STATUSES, Budget, Finding
from verify.assumptions.loading import load_problem
from verify.assumptions.run import NAMES, AssumptionReport, check_assumptions

__all__ = [
    "NAMES",
    "STATUSES",
    "AssumptionReport",
    "Budget",
    "Finding",
    "OracleError",
    "Oracles",
    "adapt",
    "add_parser",
    "check_assumptions",
    "load_problem",
    "main",
    "run_command",
]

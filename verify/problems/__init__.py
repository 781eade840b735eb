"""Problems with certified constants, batched over runs.

``make("least-squares:m=6,kappa=100")`` builds a registered family; ``from_functions(f, grad, shape)``
wraps a user's plain functions; ``transpose(problem)`` gives ``g(V) = f(Vᵀ)``.  Each family's factory
lives in its module with keyword arguments, e.g. ``verify.problems.least_squares.least_squares(m=6)``
(not re-exported here, so that the module names are not shadowed).  See
:class:`~verify.problems.base.Problem` for the interface and :class:`~verify.problems.base.Constant`
for how constants record their provenance, and :mod:`verify.problems.stochastic` for the stochastic
oracles.
"""

from verify.problems.base import CONSTANT_KEYS, Constant, Federated, FiniteSum, Problem, Stochastic
from verify.problems.federated_ls import FederatedLeastSquares
from verify.problems.l1_regression import L1Regression
from verify.problems.least_squares import LeastSquares
from verify.problems.nonconvex_reg import NonconvexReg
from verify.problems.norm_distance import NormDistance
from verify.problems.pl_sine import PLSine
from verify.problems.quadratic import IsotropicQuadratic
from verify.problems.registry import describe, make, names
from verify.problems.wrappers import from_functions, transpose

__all__ = [
    "CONSTANT_KEYS",
    "Constant",
    "FederatedLeastSquares",
    "Federated",
    "FiniteSum",
    "IsotropicQuadratic",
    "L1Regression",
    "LeastSquares",
    "NonconvexReg",
    "NormDistance",
    "PLSine",
    "Problem",
    "Stochastic",
    "describe",
    "from_functions",
    "make",
    "names",
    "transpose",
]

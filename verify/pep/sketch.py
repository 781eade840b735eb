r"""Finite-outcome sketches: random orthogonal projections onto unions of coordinate blocks.

A performance-estimation problem (PEP) can take an expectation over a random sketch exactly only when
the sketch has finitely many outcomes.  Here the space (the vectorised W) is split into ``blocks``
mutually orthogonal subspaces ``V_0, …, V_{d-1}`` of free dimension (the PEP chooses them; PEPit's
``declare_block_partition``), and an outcome is a projection ``Ĥ = P_S = Σ_{j∈S} P_{V_j}`` drawn with a
fixed probability.  Each such Ĥ is symmetric and idempotent and is drawn independently of the past,
which is all the proofs of :mod:`theorems` use about the sketch, and

.. math:: \mathbb E\hat H = \sum_j w_j P_{V_j},\qquad w_j = \sum_{S \ni j} \Pr[S],\qquad
          \lambda_{\min}^p = \min_j w_j,\quad \lambda_{\max}^p = \max_j w_j .

Two families:

* :func:`two_block` (the default of ``verify pep``): the left sketch keeps block 0 (probability p), the
  right sketch keeps the complementary block 1 (probability 1 − p).  This models the Bernoulli choice
  between a left and a right projection in its most anisotropic form: the two projections are
  complementary, so E Ĥ = p P_0 + (1 − p) P_1, λ_min^p = min(p, 1 − p), λ_max^p = max(p, 1 − p).  It is
  not literally ``H_B G`` versus ``G H_A`` on a matrix (those two ranges always overlap), but it is a
  sketch distribution within the assumptions every theorem here is stated under.
* :func:`grid`: Bernoulli-LoRA itself with block-coordinate sketches.  W is an ``mb × nb`` grid of blocks;
  the left sketch ``H_B`` keeps r of the mb block rows (uniformly), the right sketch ``H_A`` keeps r of the
  nb block columns; an outcome keeps the cells of the chosen rows (or columns).  Every cell has
  w = p r/mb + (1 − p) r/nb, so E Ĥ = w I and λ_min^p = λ_max^p = w.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from verify.errors import UserError, require

#: Largest number of outcomes of one step: a PEP of T steps has (outcomes)^T branches.
MAX_OUTCOMES = 16


@dataclass(frozen=True)
class FiniteSketch:
    """A random projection ``Ĥ = P_S`` onto a union S of coordinate blocks, S drawn from ``outcomes``.

    ``outcomes`` holds ``(probability, S)`` pairs, S a tuple of block indices in ``range(blocks)``;
    the probabilities sum to 1.
    """

    name: str
    blocks: int
    outcomes: tuple[tuple[float, tuple[int, ...]], ...]

    def __post_init__(self) -> None:
        total = sum(prob for prob, _ in self.outcomes)
        if abs(total - 1.0) > 1e-12 or any(prob < 0 for prob, _ in self.outcomes):
            raise ValueError(f"sketch {self.name}: probabilities {[q for q, _ in self.outcomes]} do not sum to 1")
        if any(not S or min(S) < 0 or max(S) >= self.blocks for _, S in self.outcomes):
            raise ValueError(f"sketch {self.name}: an outcome keeps no block or a block outside range({self.blocks})")

    @property
    def weights(self) -> tuple[float, ...]:
        """``w_j = Pr[j ∈ S]``: the eigenvalue of E Ĥ on block j."""
        return tuple(sum(prob for prob, S in self.outcomes if j in S) for j in range(self.blocks))

    @property
    def lambda_min_p(self) -> float:
        """λ_min(E Ĥ) = min_j w_j."""
        return min(self.weights)

    @property
    def lambda_max_p(self) -> float:
        """λ_max(E Ĥ) = max_j w_j."""
        return max(self.weights)

    def branches(self, T: int) -> int:
        """Number of outcome sequences of T steps: ``len(outcomes)**T``."""
        return len(self.outcomes) ** T


def _check_p(p: float) -> None:
    require(0.0 < p < 1.0, f"--p {p} must be in (0, 1): at p = 0 or 1 one block is never updated (lambda_min_p = 0)")


def two_block(p: float) -> FiniteSketch:
    """Block 0 with probability p, the complementary block 1 otherwise; λ_min^p = min(p, 1 − p)."""
    _check_p(p)
    return FiniteSketch("two-block", 2, ((p, (0,)), (1.0 - p, (1,))))


def grid(p: float, mb: int, nb: int, r: int) -> FiniteSketch:
    """Bernoulli-LoRA with block-coordinate sketches on an ``mb × nb`` grid; E Ĥ = (p r/mb + (1 − p) r/nb) I.

    Cell ``(i, j)`` is block ``i nb + j``.  Left outcomes: each r-subset of the block rows, probability
    ``p / C(mb, r)``; right outcomes: each r-subset of the block columns, probability ``(1 − p) / C(nb, r)``.
    """
    _check_p(p)
    require(mb >= 1 and nb >= 1, f"grid mb={mb}, nb={nb}: both must be >= 1")
    require(1 <= r <= min(mb, nb), f"grid rank r={r} must be in [1, min(mb, nb) = {min(mb, nb)}]")
    rows, cols = list(itertools.combinations(range(mb), r)), list(itertools.combinations(range(nb), r))
    require(len(rows) + len(cols) <= MAX_OUTCOMES,
            f"grid mb={mb}, nb={nb}, r={r} has {len(rows) + len(cols)} outcomes per step; at most {MAX_OUTCOMES}")
    left = [(p / len(rows), tuple(i * nb + j for i in R for j in range(nb))) for R in rows]
    right = [((1.0 - p) / len(cols), tuple(i * nb + j for i in range(mb) for j in C)) for C in cols]
    return FiniteSketch(f"grid:mb={mb},nb={nb},r={r}", mb * nb, tuple(left + right))


def parse(spec: str, p: float) -> FiniteSketch:
    """``two-block`` or ``grid:mb=MB,nb=NB,r=R`` at probability p (the ``--sketch`` option)."""
    name, _, rest = spec.partition(":")
    if name == "two-block" and not rest:
        return two_block(p)
    if name == "grid":
        try:
            kv = dict(item.split("=", 1) for item in rest.split(",")) if rest else {}
            args = {k: int(kv.pop(k)) for k in ("mb", "nb", "r")}
        except (ValueError, KeyError):
            raise UserError(f"--sketch {spec!r}: a grid needs grid:mb=MB,nb=NB,r=R with integers") from None
        require(not kv, f"--sketch {spec!r}: unknown keys {sorted(kv)}; allowed: mb, nb, r")
        return grid(p, **args)
    raise UserError(f"--sketch {spec!r} is not one of: two-block, grid:mb=MB,nb=NB,r=R")


__all__ = ["MAX_OUTCOMES", "FiniteSketch", "grid", "parse", "two_block"]

r"""Blocks of runs: a check's R runs split into tasks whose statistics merge exactly.

A check of R runs with block size K (:attr:`verify.check.CheckSpec.block_runs`) has B = ⌈R/K⌉ blocks;
block b holds the runs bK, …, min((b+1)K, R) − 1.  Each block is one task (:mod:`verify.tasks`): it runs
its chains and returns a :class:`BlockResult` holding, per checkpoint and per plot point, the
:class:`Moments` (count, mean, M2, M3) of the measure over its runs, which merge into those of
all R runs (Chan's pairwise update), plus what else the verdict needs: the first non-finite step, the
first sample curves and (block 0 only) the lemma-level one-step check.  :func:`verify.check.conclude`
merges the blocks and decides.

Seeds.  The check's ``SeedSequence`` (:func:`verify.seeding.task_seed` of the root seed and
``spec.key()``) has the children

* 0: the runs of block 0,
* 1: the one-step check (block 0),
* b + 1: the runs of block b >= 1,

so the numbers of block b depend on the root seed, the check, b and its run count only, never on the
executor or on the other blocks; a check of one block (R <= K) draws exactly the numbers of the unsplit
check.  Changing K changes the random numbers (as another seed would), not their distribution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Runs per block unless a check says otherwise: the batched runner is near its best per-run rate here
#: (benchmarks/README.md), and every check of the built-in suite is one block.
DEFAULT_BLOCK_RUNS = 256
#: How many sample curves (single runs) a check keeps for its plot.
SAMPLE_CURVES = 5
#: The fields of a stored block record; a record lacking one is run again.
RECORD_FIELDS = ("index", "start", "runs", "checkpoints", "plot", "samples", "diverged_at", "lemma", "exact",
                 "timings")


def block_ranges(runs: int, block_runs: int) -> list[tuple[int, int]]:
    """``(start, count)`` of every block of ``runs`` runs cut into blocks of at most ``block_runs``."""
    if runs < 1 or block_runs < 1:
        raise ValueError(f"need runs >= 1 and block_runs >= 1, got {runs} and {block_runs}")
    return [(start, min(block_runs, runs - start)) for start in range(0, runs, block_runs)]


#: The child of the check's seed that block 0's constant audit draws from (far above any block's index).
AUDIT_CHILD = 2**31


def block_streams(seed: np.random.SeedSequence, index: int) -> dict[str, np.random.Generator]:
    """The generators of block ``index`` of the check seeded by ``seed``: ``"runs"``, and ``"lemma"`` and
    ``"audit"`` (:mod:`verify.audit`) for block 0."""
    def child(i: int) -> np.random.Generator:
        # SeedSequence.spawn(k)[i] is exactly this sequence; spawning it directly keeps block b
        # independent of how many children were spawned before it.
        return np.random.default_rng(np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, i),
                                                            pool_size=seed.pool_size))
    if index == 0:
        return {"runs": child(0), "lemma": child(1), "audit": child(AUDIT_CHILD)}
    return {"runs": child(index + 1)}


@dataclass(frozen=True)
class Moments:
    r"""Mergeable per-column sample moments of R runs: ``count`` = R, ``mean``, ``m2`` = Σ_i (x_i − mean)²,
    ``m3`` = Σ_i (x_i − mean)³.

    Two groups of runs merge exactly (Chan, Golub & LeVeque 1979 for M2; Pébay 2008, eq. 2.1, for M3):
    with n = n_a + n_b and δ = mean_b − mean_a,

    .. math:: \mathrm{mean} = \mathrm{mean}_a + \delta\, n_b / n,\qquad
              M_2 = M_{2,a} + M_{2,b} + \delta^2 n_a n_b / n,

    .. math:: M_3 = M_{3,a} + M_{3,b} + \delta^3 n_a n_b (n_a - n_b)/n^2
              + 3\delta\,(n_a M_{2,b} - n_b M_{2,a})/n,

    so blocks of runs computed apart give the mean, standard deviation and skewness of all the runs, up to
    rounding.  A NaN or Inf in a column makes that column's moments non-finite, as for a single pass.
    """

    count: int
    mean: np.ndarray
    m2: np.ndarray
    m3: np.ndarray

    @classmethod
    def of(cls, X: np.ndarray) -> Moments:
        """The moments of the columns of ``X`` (R, K), R >= 1."""
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[0] < 1:
            raise ValueError(f"need an (R, K) array with R >= 1, got shape {X.shape}")
        mean = X.mean(axis=0)
        with np.errstate(invalid="ignore", over="ignore"):
            dev = X - mean
            m2 = (dev**2).sum(axis=0)
            m3 = (dev**3).sum(axis=0)
        return cls(X.shape[0], mean, m2, m3)

    def merge(self, other: Moments) -> Moments:
        """The moments of the union of both groups of runs."""
        if self.mean.shape != other.mean.shape:
            raise ValueError(f"cannot merge moments of shapes {self.mean.shape} and {other.mean.shape}")
        na, nb = self.count, other.count
        n = na + nb
        with np.errstate(invalid="ignore", over="ignore"):
            delta = other.mean - self.mean
            mean = self.mean + delta * (nb / n)
            m2 = self.m2 + other.m2 + delta**2 * (na * nb / n)
            m3 = (self.m3 + other.m3 + delta**3 * (na * nb * (na - nb) / n**2)
                  + 3 * delta * (na * other.m2 - nb * self.m2) / n)
        return Moments(n, mean, m2, m3)

    def std(self) -> np.ndarray:
        """The sample standard deviation (ddof = 1) of each column; needs ``count`` >= 2."""
        return np.sqrt(self.m2 / (self.count - 1))

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready dict (non-finite floats as strings) that :meth:`from_record` reads back exactly."""
        return {"count": self.count, "mean": _floats(self.mean), "m2": _floats(self.m2), "m3": _floats(self.m3)}

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Moments:
        """The moments of a :meth:`to_record` dict (``KeyError``/``TypeError`` when malformed)."""
        return cls(int(rec["count"]), _array(rec["mean"]), _array(rec["m2"]), _array(rec["m3"]))

    def skewness(self) -> np.ndarray:
        r"""The sample skewness g_1 = (M_3/R) / (M_2/R)^{3/2} of each column (0 where the runs are all equal)."""
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            g1 = (self.m3 / self.count) / (self.m2 / self.count) ** 1.5
        return np.where(self.m2 > 0, g1, 0.0)


@dataclass(frozen=True)
class BlockResult:
    """What one block of runs measured; :func:`merge` of all the blocks of a check gives its statistics.

    ``checkpoints`` and ``plot`` are the moments of the measure at the check's checkpoints (non-finite
    values as NaN) and plot points; ``samples`` the measure of the block's first runs at the plot points;
    ``diverged_at`` the first step at which any run of the block had a non-finite f; ``lemma`` the
    one-step check's draws (block 0 only; None elsewhere or when skipped without a reason); ``exact`` the
    exact oracle's record (block 0 only, :func:`verify.exact.in_check.exact_record`; None elsewhere);
    ``audit`` the witnesses of the certified constants (block 0 only, :func:`verify.audit.audit_record`).
    """

    index: int
    start: int
    runs: int
    checkpoints: Moments
    plot: Moments
    samples: np.ndarray
    diverged_at: int | None
    lemma: dict[str, Any] | None
    exact: dict[str, Any] | None
    timings: dict[str, float]
    audit: dict[str, Any] | None = None

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready dict that :func:`from_record` reads back exactly (non-finite floats as strings)."""
        return {"index": self.index, "start": self.start, "runs": self.runs,
                "checkpoints": self.checkpoints.to_record(), "plot": self.plot.to_record(),
                "samples": [_floats(row) for row in self.samples], "diverged_at": self.diverged_at,
                "lemma": self.lemma, "exact": self.exact, "timings": dict(self.timings),
                "audit": self.audit}


def from_record(record: dict[str, Any]) -> BlockResult:
    """The :class:`BlockResult` of a stored record; ``ValueError`` names a missing or malformed field."""
    missing = [k for k in RECORD_FIELDS if k not in record]
    if missing:
        raise ValueError(f"the record lacks key {missing[0]!r}")
    try:
        samples = np.array([_array(row) for row in record["samples"]], dtype=float)
        return BlockResult(int(record["index"]), int(record["start"]), int(record["runs"]),
                           Moments.from_record(record["checkpoints"]), Moments.from_record(record["plot"]),
                           samples.reshape(len(record["samples"]), -1), record["diverged_at"], record["lemma"],
                           record["exact"], dict(record["timings"]), record.get("audit"))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"malformed block record ({type(exc).__name__}: {exc})") from None


def merge(blocks: list[BlockResult]) -> tuple[Moments, Moments, np.ndarray, int | None]:
    """The merged checkpoint and plot moments, the first sample curves and the first divergence step."""
    if not blocks:
        raise ValueError("no blocks to merge")
    blocks = sorted(blocks, key=lambda b: b.index)
    cp, plot = blocks[0].checkpoints, blocks[0].plot
    for b in blocks[1:]:
        cp, plot = cp.merge(b.checkpoints), plot.merge(b.plot)
    samples = np.concatenate([b.samples for b in blocks])[:SAMPLE_CURVES]
    diverged = [b.diverged_at for b in blocks if b.diverged_at is not None]
    return cp, plot, samples, (min(diverged) if diverged else None)


def _floats(x: np.ndarray) -> list[float | str]:
    return [float(v) if np.isfinite(v) else str(float(v)) for v in np.asarray(x, dtype=float)]


def _array(values: list[float | str]) -> np.ndarray:
    return np.array([float(v) for v in values], dtype=float)



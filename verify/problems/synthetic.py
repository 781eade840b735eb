"""Synthetic low-effective-rank regression data, in the manner of scikit-learn's ``make_regression``.

This reimplements (without depending on scikit-learn) the data model the paper's §7.1 experiment used:
``make_regression(effective_rank=k, tail_strength=t)`` draws ``A = U diag(s) Vᵀ`` with random
orthonormal ``U``, ``V`` and the singular profile of ``make_low_rank_matrix``, plants coefficients on a
random subset of features, and adds Gaussian noise.  The numbers differ from scikit-learn's (different
random streams); the distribution is the same.
"""

from __future__ import annotations

import numpy as np


def low_rank_profile(k: int, effective_rank: float, tail_strength: float) -> np.ndarray:
    """Singular values ``s_i = (1−t)·exp(−(i/r)²) + t·exp(−0.1·i/r)``, ``i = 0, …, k−1``.

    ``r`` is the effective rank and ``t`` the tail strength (the ``make_low_rank_matrix`` profile: a bell
    of width ``r`` plus a slowly decaying tail of weight ``t``).
    """
    i = np.arange(k) / effective_rank
    return (1.0 - tail_strength) * np.exp(-(i**2)) + tail_strength * np.exp(-0.1 * i)


def orthonormal_columns(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """A ``rows × cols`` matrix with orthonormal columns: thin QR of a Gaussian (never ``rows × rows``)."""
    Q, _ = np.linalg.qr(rng.standard_normal((rows, cols)))
    return Q


def low_rank_regression(
    rng: np.random.Generator, N: int, d: int, effective_rank: float, tail_strength: float,
    informative: int, noise: float, bias: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``(A, b, w)`` with ``A = U diag(s) Vᵀ ∈ R^{N×d}`` and ``b = A w + bias + noise·ε``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness; draws, in order, ``U`` (``N×k``), ``V`` (``d×k``), ``k = min(N, d)``,
        the support of ``w``, its values, and ``ε``.
    N, d : int
        Samples and features.
    effective_rank, tail_strength : float
        Parameters of :func:`low_rank_profile`.
    informative : int
        Number of non-zero coefficients of ``w``; they are ``100·Uniform[0, 1)`` on a random support
        (as in ``make_regression``).
    noise : float
        Standard deviation of the Gaussian noise added to ``b``, in the units of ``make_regression``
        (before any rescaling of ``A`` and ``b``).
    bias : float
        Constant added to every entry of ``b``.

    Returns
    -------
    A : (N, d) ndarray
    b : (N,) ndarray
    w : (d,) ndarray
        The planted coefficients.
    """
    k = min(N, d)
    U = orthonormal_columns(rng, N, k)
    V = orthonormal_columns(rng, d, k)
    A = (U * low_rank_profile(k, effective_rank, tail_strength)) @ V.T
    w = np.zeros(d)
    support = rng.permutation(d)[:informative]
    w[support] = 100.0 * rng.uniform(size=informative)
    b = A @ w + bias + noise * rng.standard_normal(N)
    return A, b, w


def rescale_globally(a: np.ndarray, mean: float, std: float) -> np.ndarray:
    """Affinely rescale all entries of ``a`` together to the given mean and standard deviation."""
    return mean + std * (a - a.mean()) / a.std()


def standardize_columns(a: np.ndarray) -> np.ndarray:
    """Per-column mean 0 and standard deviation 1, as ``StandardScaler`` (constant columns become 0)."""
    sd = a.std(axis=0)
    return (a - a.mean(axis=0)) / np.where(sd > 0, sd, 1.0)

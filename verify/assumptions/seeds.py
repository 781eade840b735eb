r"""Many ``numpy.random.Generator`` objects from integer seeds at once, each equal to ``default_rng(seed)``.

The stochastic checks hand the user's ``stochastic_grad(W, rng)`` one generator per draw, built from one
64-bit seed per draw (``ξ`` is the seed), thousands per run.  ``numpy.random.default_rng(seed)`` costs
about 23 µs, most of it in ``SeedSequence(seed).generate_state(4, uint64)`` evaluated one seed at a time
in Python-level code.  :func:`generators` runs that hash for all seeds at once as uint32 array arithmetic,
then gives each ``PCG64`` its precomputed state words (about 2 µs per generator).

The hash is the one ``numpy.random.SeedSequence`` documents as stable across numpy versions (Melissa
O'Neill's ``seed_seq_fe``, pool of 4 uint32 words): the seed's little-endian 32-bit words are hashed into
the pool (``hashmix`` with the running constant ``h ← h·MULT_A`` from ``INIT_A``), every pool word is mixed
into every other one (``mix(x, y) = (L x − R y) ⊕ ((L x − R y) ≫ 16)``), and the state word ``j`` is
``hashmix(pool[j mod 4])`` with the constant sequence from ``INIT_B``/``MULT_B``.  A seed below ``2**64`` has
at most two words, and a missing word hashes as 0, so every seed is the 4-word entropy ``(lo, hi, 0, 0)``.
Because numpy is the reference, :func:`generators` compares its state with numpy's for the first seed of
every call and falls back to ``default_rng`` on a mismatch, so a change in numpy can cost speed but never
give other numbers.
"""

from __future__ import annotations

import numpy as np
from numpy.random.bit_generator import ISpawnableSeedSequence

__all__ = ["generators", "seed_states"]

_INIT_A, _MULT_A = np.uint32(0x43B0D7E5), np.uint32(0x931E8875)
_INIT_B, _MULT_B = np.uint32(0x8B51F9DD), np.uint32(0x58F38DED)
_MIX_L, _MIX_R = np.uint32(0xCA01F9DD), np.uint32(0x4973F715)
_POOL = 4
_WORDS = 8  # generate_state(4, uint64): 8 uint32 words


def _constants(init: np.uint32, mult: np.uint32, count: int) -> list[np.uint32]:
    """The running hash constants ``h_1, h_2, …``: ``h_0 = init``, ``h_{k+1} = h_k·mult`` (mod 2³²); the k-th
    hash uses ``h_k`` to xor and ``h_{k+1}`` to multiply, so ``count + 1`` values are returned."""
    out = [init]
    with np.errstate(over="ignore"):
        for _ in range(count):
            out.append(np.uint32(out[-1] * mult))
    return out


# hashmix is called 4 times to fill the pool and 12 times to mix it: 16 calls, 17 constants.
_HASH_A = _constants(_INIT_A, _MULT_A, _POOL + _POOL * (_POOL - 1))
_HASH_B = _constants(_INIT_B, _MULT_B, _WORDS)


def seed_states(seeds: np.ndarray) -> np.ndarray:
    """``SeedSequence(seed).generate_state(4, np.uint64)`` for every seed: ``(K,)`` integers in ``[0, 2**64)``
    → ``(K, 4)`` uint64."""
    s = np.asarray(seeds).astype(np.uint64)
    words = [(s & np.uint64(0xFFFFFFFF)).astype(np.uint32), (s >> np.uint64(32)).astype(np.uint32)]
    words += [np.zeros_like(words[0])] * (_POOL - 2)
    k = 0

    def hashmix(value: np.ndarray) -> np.ndarray:
        nonlocal k
        value = (value ^ _HASH_A[k]) * _HASH_A[k + 1]
        k += 1
        return value ^ (value >> np.uint32(16))

    with np.errstate(over="ignore"):
        pool = [hashmix(w) for w in words]
        for src in range(_POOL):
            for dst in range(_POOL):
                if src != dst:
                    mixed = _MIX_L * pool[dst] - _MIX_R * hashmix(pool[src])
                    pool[dst] = mixed ^ (mixed >> np.uint32(16))
        state = np.empty((len(s), _WORDS), dtype=np.uint32)
        for j in range(_WORDS):
            value = (pool[j % _POOL] ^ _HASH_B[j]) * _HASH_B[j + 1]
            state[:, j] = value ^ (value >> np.uint32(16))
    # numpy pairs the uint32 words little-endian into uint64: word 2i is the low half of entry i
    return state[:, 0::2].astype(np.uint64) | (state[:, 1::2].astype(np.uint64) << np.uint64(32))


class _Seeded(ISpawnableSeedSequence):
    """The seed sequence of one seed with its state words already computed.  Everything else (``entropy``,
    ``spawn``, other state sizes) is numpy's own ``SeedSequence(seed)``, created on first use, so that
    ``rng.spawn`` and ``rng.bit_generator.seed_seq`` behave as with ``default_rng(seed)``."""

    __slots__ = ("_seed", "_state", "_numpy")

    def __init__(self, seed: int, state: np.ndarray) -> None:
        self._seed = seed
        self._state = state
        self._numpy: np.random.SeedSequence | None = None

    @property
    def numpy(self) -> np.random.SeedSequence:
        if self._numpy is None:
            self._numpy = np.random.SeedSequence(self._seed)
        return self._numpy

    def generate_state(self, n_words: int, dtype=np.uint32) -> np.ndarray:
        if n_words == 4 and (dtype is np.uint64 or np.dtype(dtype) == np.uint64):
            return self._state.copy()
        return self.numpy.generate_state(n_words, dtype)

    def spawn(self, n_children: int) -> list[np.random.SeedSequence]:
        return self.numpy.spawn(n_children)

    def __getattr__(self, name: str) -> object:  # entropy, spawn_key, pool, n_children_spawned, …
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.numpy, name)


def generators(seeds: np.ndarray) -> list[np.random.Generator]:
    """``[numpy.random.default_rng(int(s)) for s in seeds]``: the same streams, built from one vectorised hash.

    Parameters
    ----------
    seeds : (K,) integer array
        Seeds in ``[0, 2**64)``.

    Returns
    -------
    list of numpy.random.Generator
        ``K`` PCG64 generators; generator ``k`` draws exactly what ``default_rng(int(seeds[k]))`` draws.
    """
    seeds = np.asarray(seeds)
    if len(seeds) == 0:
        return []
    states = seed_states(seeds)
    first = int(seeds[0])
    if not np.array_equal(states[0], np.random.SeedSequence(first).generate_state(4, np.uint64)):
        return [np.random.default_rng(int(s)) for s in seeds]
    Gen, PCG = np.random.Generator, np.random.PCG64
    return [Gen(PCG(_Seeded(s, st))) for s, st in zip(seeds.tolist(), states, strict=True)]

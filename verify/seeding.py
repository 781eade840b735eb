"""Seeds that depend on a task's key only.

Each task (one check) gets ``SeedSequence(root, spawn_key=H(key))`` where H is the first 16 bytes of
SHA-256 of the key, read as four 32-bit words.  The numbers a task draws therefore depend on the root
seed and on what the task is, never on how many tasks run, in which order, or on which worker.
"""

from __future__ import annotations

import hashlib

import numpy as np


def task_seed(root: int, key: str) -> np.random.SeedSequence:
    """The SeedSequence of the task named ``key`` under the root seed ``root``."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    spawn_key = tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))
    return np.random.SeedSequence(root, spawn_key=spawn_key)


def streams(seed: np.random.SeedSequence, names: tuple[str, ...]) -> dict[str, np.random.Generator]:
    """One independent Generator per name, spawned from ``seed`` in the given order."""
    return {name: np.random.default_rng(child) for name, child in zip(names, seed.spawn(len(names)), strict=True)}

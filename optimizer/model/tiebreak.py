"""The names-only hash of the canonical tie-break (optimizer/solver/canonical.py): every model's columns
get their tie-break weight from these two functions, so a model that names its own columns (the
monthly plan's) weighs them the same way."""
from __future__ import annotations

import hashlib

import numpy as np


def digest64(texts) -> np.ndarray:
    """(n,) uint64: each text's 8-byte BLAKE2b digest (``hashlib.blake2b(text.encode("utf-8"),
    digest_size=8)``, which is not the first 8 bytes of the 64-byte digest) read as a big-endian
    unsigned integer (the same on any machine)."""
    blake = hashlib.blake2b
    joined = b"".join([blake(str(t).encode("utf-8"), digest_size=8).digest() for t in texts])
    return np.frombuffer(joined, dtype=">u8").astype(np.uint64)


def mix64(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser of a * golden + b (uint64, wrapping): one well-spread number per pair."""
    z = a * np.uint64(0x9E3779B97F4A7C15) + b
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))

"""MinHash signatures in numpy, and the compact b-bit form used to verify candidate pairs.

Permutation ``i`` maps a shingle's 32-bit hash ``x`` (the 64-bit shingle hash folded, made
odd) to ``a_i * x mod 2**32`` with ``a_i`` odd: a bijection of odd 32-bit values. Shingle hashes
are already uniformly mixed, so one multiply per (shingle, permutation) suffices; it runs for a
block of shingles × all permutations at once (uint32 SIMD), then ``minimum.reduceat`` per
document. Signature values are 32-bit, as in datasketch. Measured on the DEV web data
(``benchmarks/minhash_impls.py``): Jaccard estimates have the error of an ideal MinHash (RMSE
0.98x the binomial sqrt(J(1-J)/256)); ~9x the throughput of datasketch's bulk path and ~2.5x
rensa's (rensa computes faster but returns its matrix only as Python lists).

b-bit MinHash (Li & König 2010): verification needs only ``bits`` bits of each value, so the
signature that travels with every band row is ``num_perm * bits / 8`` bytes. The bits come from
a multiplicative remix of the value (its low bits alone would repeat the shingle's low bits).
Two different minima agree on b bits with probability 2**-bits; :func:`jaccard_estimate` removes
that chance agreement.
"""

from __future__ import annotations

import numpy as np

#: Shingle × permutation products computed per block: 8 MiB of uint32. Measured on the DEV web
#: data: 2^19 values 1.6x slower (per-block overhead), 2^22 no faster.
BLOCK_VALUES = 1 << 21
EMPTY = np.uint32(0xFFFFFFFF)


def multipliers(num_perm: int, seed: int) -> np.ndarray:
    """Odd uint32 multipliers, one per permutation; fixed by ``seed``."""
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 2**31, size=num_perm, dtype=np.uint64) * 2 + 1).astype(np.uint32)


def minhash(hashes: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """Signatures (ndocs, num_perm) uint32 of the shingle hashes laid out by ``offsets``.

    A document without shingles gets all ``0xFFFFFFFF`` (so all such documents are equal).
    """
    a = multipliers(num_perm, seed)[:, None]
    # Fold to 32 bits; forcing the value odd keeps a * x from ever being 0 for every a.
    x = ((hashes >> np.uint64(32)) ^ hashes).astype(np.uint32) | np.uint32(1)
    ndocs = len(offsets) - 1
    out = np.full((num_perm, ndocs), EMPTY, dtype=np.uint32)
    block = max(BLOCK_VALUES // num_perm, 1)
    buf = np.empty((num_perm, block), dtype=np.uint32)
    d = 0
    while d < ndocs:
        # Documents d..e-1 whose shingles fit in one block (at least one document).
        e = int(np.searchsorted(offsets, offsets[d] + block, side="right")) - 1
        e = min(max(e, d + 1), ndocs)
        lo, hi = int(offsets[d]), int(offsets[e])
        for start in range(lo, hi, block):  # several blocks only for one long document
            part = x[start : min(start + block, hi)]
            m = np.multiply(a, part, out=buf[:, : len(part)])
            if hi - lo > block:
                np.minimum(out[:, d], m.min(axis=1), out=out[:, d])
                continue
            nonempty = offsets[d + 1 : e + 1] > offsets[d:e]
            starts = offsets[d:e][nonempty] - lo
            if nonempty.all():
                out[:, d:e] = np.minimum.reduceat(m, starts, axis=1)
            else:
                out[:, d:e][:, nonempty] = np.minimum.reduceat(m, starts, axis=1)
        d = e
    return np.ascontiguousarray(out.T)


def pack_bits(sig: np.ndarray, bits: int) -> np.ndarray:
    """(ndocs, num_perm * bits / 8) uint8: ``bits`` remixed bits of each signature value."""
    if bits == 32:
        return np.ascontiguousarray(sig).view(np.uint8)
    with np.errstate(over="ignore"):
        v = ((sig * np.uint32(0x9E3779B1)) >> np.uint32(32 - bits)).astype(np.uint8)
    per_byte = 8 // bits
    v = v.reshape(len(sig), sig.shape[1] // per_byte, per_byte)
    out = v[:, :, 0].copy()
    for k in range(1, per_byte):
        out |= v[:, :, k] << np.uint8(bits * k)
    return out


def _zero_fields_table(bits: int) -> np.ndarray:
    """For each byte value: how many of its ``bits``-wide fields are zero."""
    mask = (1 << bits) - 1
    return np.array(
        [sum(((b >> (bits * k)) & mask) == 0 for k in range(8 // bits)) for b in range(256)],
        dtype=np.uint16,
    )


_TABLES = {b: _zero_fields_table(b) for b in (1, 2, 4, 8)}


def jaccard_estimate(x: np.ndarray, y: np.ndarray, bits: int) -> np.ndarray:
    """Jaccard estimates for row pairs of two packed-signature arrays (same shape).

    Fraction of equal fields, corrected for chance agreement of b-bit values:
    ``(f - 2**-b) / (1 - 2**-b)``, clipped to [0, 1] (exact fraction for bits=32).
    """
    if bits == 32:
        return (x.view(np.uint32) == y.view(np.uint32)).mean(axis=1)
    fields = x.shape[1] * (8 // bits)
    equal = _TABLES[bits][x ^ y].sum(axis=1, dtype=np.int64) / fields
    chance = 2.0**-bits
    return np.clip((equal - chance) / (1 - chance), 0.0, 1.0)

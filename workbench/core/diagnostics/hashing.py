"""Perceptual hashes of images (dHash and pHash, 64 bits each), computed in batches with torch and scipy.

Near-identical images get hashes that differ in few bits, so splitting a hash into bands and grouping
by band finds candidate pairs without comparing every image with every other (pigeonhole: two hashes
within d bits share at least one of d + 1 bands exactly).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

_WEIGHTS = 1 << np.arange(64, dtype=np.uint64)


def _pack(bits: np.ndarray) -> np.ndarray:
    """N×64 booleans to N uint64 hashes."""
    return (bits.astype(np.uint64) * _WEIGHTS).sum(axis=1, dtype=np.uint64)


def dhash(grey: np.ndarray) -> np.ndarray:
    """Difference hash of N×H×W greyscale images: signs of horizontal gradients of a 9×8 thumbnail."""
    thumb = F.adaptive_avg_pool2d(torch.from_numpy(np.ascontiguousarray(grey, dtype=np.float32))[:, None], (8, 9))
    bits = (thumb[:, 0, :, 1:] > thumb[:, 0, :, :-1]).reshape(len(grey), 64).numpy()
    return _pack(bits)


def phash(grey: np.ndarray) -> np.ndarray:
    """DCT hash: the 8×8 lowest frequencies of a 32×32 thumbnail, compared with their median."""
    from scipy.fft import dctn

    thumb = F.interpolate(torch.from_numpy(np.ascontiguousarray(grey, dtype=np.float32))[:, None], size=(32, 32),
                          mode="bilinear", align_corners=False, antialias=grey.shape[-1] > 32)[:, 0].numpy()
    low = dctn(thumb, axes=(1, 2), norm="ortho")[:, :8, :8].reshape(len(grey), 64)
    return _pack(low > np.median(low[:, 1:], axis=1, keepdims=True))


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bitwise distance between uint64 hashes (element-wise)."""
    x = np.bitwise_xor(a, b)
    return np.unpackbits(x.view(np.uint8).reshape(*x.shape, 8), axis=-1).sum(axis=-1)


def candidate_pairs(hashes: list[np.ndarray], bands: int = 4, max_bucket: int = 300) -> np.ndarray:
    """Pairs (i < j) whose hashes agree exactly on at least one band of at least one hash kind (K×2 array)."""
    n = len(hashes[0]) if hashes else 0
    width = 64 // bands
    mask = np.uint64((1 << width) - 1)
    chunks: list[np.ndarray] = []
    for values in hashes:
        for band in range(bands):
            keys = (values >> np.uint64(band * width)) & mask
            order = np.argsort(keys, kind="stable")
            sorted_keys = keys[order]
            starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
            ends = np.r_[starts[1:], n]
            shared = ends - starts >= 2
            for lo, hi in zip(starts[shared].tolist(), ends[shared].tolist(), strict=True):
                members = order[lo:min(hi, lo + max_bucket)]  # a flat background can fill one bucket with thousands
                ii, jj = np.triu_indices(len(members), 1)
                a, b = members[ii], members[jj]
                chunks.append(np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b))
    if not chunks:
        return np.zeros((0, 2), dtype=np.int64)
    codes = np.unique(np.concatenate(chunks))
    return np.stack([codes // n, codes % n], axis=1)

"""Stateful, anti-aliased rational resampler to 16 kHz (numpy only).

A Kaiser-windowed sinc low-pass, evaluated as a polyphase filter with matrix products on
fixed blocks aligned to the stream position: every output sample is computed by exactly the
same operations whatever the caller's chunking (bit-identical results), and the matrix
products are small enough for BLAS to stay on one thread.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt

from .features import SAMPLE_RATE

FloatArray = npt.NDArray[np.float32]

# Resampler: Kaiser-windowed sinc, ZERO_CROSSINGS lobes each side at the lower of the two
# rates, cut-off at ROLLOFF x the lower Nyquist frequency.
ZERO_CROSSINGS: Final = 10
ROLLOFF: Final = 0.9
KAISER_BETA: Final = 6.0
MIN_BLOCK_OUT: Final = 16


@dataclass(frozen=True, slots=True)
class _SubBlock:
    """Outputs ``[out0, out1)`` of a block from the inputs ``[offset, offset + width)``."""

    offset: int  # relative to the block start (negative: reaches into earlier input)
    width: int
    out0: int
    out1: int
    weights: FloatArray  # [width, out1 - out0]


@dataclass(frozen=True, slots=True)
class _Filter:
    """Block matrices of one rate ratio: ``block_out`` outputs per ``block_in`` inputs.

    Two layouts, whichever the cost model (multiply-adds plus matrix-product calls) finds
    cheaper for the ratio:

    * ``split`` (e.g. 12 kHz -> 16 kHz): each block's outputs are the block's inputs times
      ``w_cur`` plus the end of the previous block times ``w_tail``;
    * ``sub`` (e.g. 44.1 or 48 kHz -> 16 kHz): the block's outputs are cut into sub-blocks,
      each computed from just the input window it needs (a strided view, no copy).

    Inputs are processed ``group`` blocks at a time, always with the same matrix shapes:
    small enough for BLAS to stay on one thread and, with fixed shapes, every output sample
    is computed by exactly the same operations whatever the caller's chunking.
    """

    up: int
    down: int
    block_in: int
    block_out: int
    tail: int
    group: int
    history: int  # input samples kept before the next block
    w_cur: FloatArray | None  # split: [block_in, block_out]
    w_tail: FloatArray | None  # split: [tail, block_out]
    subs: tuple[_SubBlock, ...]  # sub


GEMM_MAX_MACS: Final = 200_000  # OpenBLAS stays single-threaded below 4 * 65536 MACs
GROUP_MAX_OUT: Final = 4096  # at most 256 ms of 16 kHz output per group (latency bound)
SUB_BLOCKS: Final = (32, 64, 128)  # outputs per sub-block tried for the sub layout
# Layout choice (measured on x86-64 with OpenBLAS): cost per output second = MACs * MAC_COST
# + matrix products * CALL_COST, times a penalty for products of fewer than MIN_ROWS rows.
MAC_COST: Final = 0.25e-9
CALL_COST: Final = 10e-6
MIN_ROWS: Final = 8


@dataclass(frozen=True, slots=True)
class _Layout:
    block_in: int
    block_out: int
    group: int
    subs: tuple[tuple[int, int, int, int], ...]  # (offset, width, out0, out1); () = split
    cost: float


def _group(block_out: int, macs_per_block: int) -> int:
    return max(1, min(GEMM_MAX_MACS // max(macs_per_block, 1), GROUP_MAX_OUT // block_out))


def _cost(macs_per_s: float, calls_per_s: float, group: int) -> float:
    return (macs_per_s * MAC_COST + calls_per_s * CALL_COST) * max(1.0, MIN_ROWS / group)


def _layouts(up: int, down: int, tail: int, rate_out: int) -> list[_Layout]:
    out = []
    k = max(math.ceil(tail / down), math.ceil(MIN_BLOCK_OUT / up), 1)
    bi, bo = down * k, up * k
    group = _group(bo, bi * bo)
    calls = 2 * rate_out / (group * bo)
    out.append(_Layout(bi, bo, group, (), _cost(rate_out * (bi + tail), calls, group)))
    for size in SUB_BLOCKS:
        for k in range(1, 257):
            bi, bo = down * k, up * k
            n_sub = max(1, -(-bo // size))
            bounds = [round(i * bo / n_sub) for i in range(n_sub + 1)]
            subs = []
            for a, b in itertools.pairwise(bounds):
                first = a * down // up - tail  # earliest input of output a
                last = (b - 1) * down // up  # latest input of output b - 1
                subs.append((first, last - first + 1, a, b))
            if max(w for _, w, _, _ in subs) > bi:
                continue  # a window longer than the block stride cannot be a strided view
            macs = sum(w * (b - a) for _, w, a, b in subs)
            group = _group(bo, max(w * (b - a) for _, w, a, b in subs))
            calls = n_sub * rate_out / (group * bo)
            cost = _cost(rate_out * macs / bo, calls, group)
            out.append(_Layout(bi, bo, group, tuple(subs), cost))
            break
    return out


def _kernel(
    up: int, down: int, j: npt.NDArray[np.float64], r: npt.NDArray[np.float64]
) -> FloatArray:
    """Weights ``[len(j), len(r)]``: input offset ``j`` -> output ``r`` of a block."""
    cutoff = min(1.0, up / down) * ROLLOFF  # relative to the input Nyquist frequency
    half = ZERO_CROSSINGS / cutoff  # kernel half-width in input samples (also the delay)
    # Output r sits at input position r * down / up (block coordinates), delayed by ``half``
    # so that it only needs inputs it already has (j <= position).
    u = r[None, :] * down / up - j[:, None] - half
    inside = np.abs(u) <= half
    window = np.i0(KAISER_BETA * np.sqrt(np.clip(1.0 - (u / half) ** 2, 0.0, 1.0)))
    w = np.where(inside, cutoff * np.sinc(cutoff * u) * window, 0.0)
    w /= w.sum(axis=0, keepdims=True)  # unit gain at DC for every phase
    return np.ascontiguousarray(w, dtype=np.float32)


@lru_cache(maxsize=16)
def _design(rate_in: int, rate_out: int) -> _Filter:
    g = math.gcd(rate_in, rate_out)
    up, down = rate_out // g, rate_in // g
    cutoff = min(1.0, up / down) * ROLLOFF
    tail = math.ceil(2 * ZERO_CROSSINGS / cutoff)
    best = min(_layouts(up, down, tail, rate_out), key=lambda lay: lay.cost)
    bi, bo = best.block_in, best.block_out
    if best.subs:
        blocks = tuple(
            _SubBlock(
                off,
                w,
                a,
                b,
                _kernel(
                    up,
                    down,
                    np.arange(off, off + w, dtype=np.float64),
                    np.arange(a, b, dtype=np.float64),
                ),
            )
            for off, w, a, b in best.subs
        )
        history = max(0, -min(off for off, _, _, _ in best.subs))
        return _Filter(up, down, bi, bo, tail, best.group, history, None, None, blocks)
    w = _kernel(up, down, np.arange(-tail, bi, dtype=np.float64), np.arange(bo, dtype=np.float64))
    return _Filter(up, down, bi, bo, tail, best.group, bi, w[tail:].copy(), w[:tail].copy(), ())


class Resampler:
    """Stateful rational resampler ``rate_in`` -> 16 kHz working on fixed groups of blocks."""

    def __init__(self, rate_in: int, rate_out: int = SAMPLE_RATE) -> None:
        self.rate_in = rate_in
        self.rate_out = rate_out
        self._f = _design(rate_in, rate_out) if rate_in != rate_out else None
        # History for the filter (zeros: silence before the stream) followed by pending input.
        self._buf: FloatArray = np.zeros(self._f.history if self._f else 0, dtype=np.float32)
        self._n_in = 0
        self._n_out = 0

    @property
    def latency_samples(self) -> int:
        """Worst-case input samples held back before they produce output."""
        return self._f.block_in * self._f.group if self._f else 0

    def ready_after(self, n_more: int) -> int:
        """How many samples :meth:`process` would return given ``n_more`` more inputs."""
        if self._f is None:
            return n_more
        f = self._f
        n_groups = (self._buf.size + n_more - f.history) // (f.block_in * f.group)
        return max(0, n_groups) * f.group * f.block_out

    def process(self, x: FloatArray) -> FloatArray:
        """Feed input samples; return every output sample that is now complete."""
        self._n_in += x.size
        if self._f is None:
            self._n_out += x.size
            return x
        f = self._f
        buf = np.concatenate((self._buf, x)) if x.size else self._buf
        span = f.block_in * f.group
        n_groups = (buf.size - f.history) // span
        if n_groups <= 0:
            self._buf = buf
            return np.zeros(0, dtype=np.float32)
        out = np.empty((n_groups * f.group, f.block_out), dtype=np.float32)
        if f.w_cur is not None and f.w_tail is not None:
            cut = f.block_in - f.tail
            for g in range(n_groups):
                rows = buf[g * span : (g + 1) * span + f.block_in].reshape(-1, f.block_in)
                y = rows[1:] @ f.w_cur
                y += rows[:-1, cut:] @ f.w_tail
                out[g * f.group : (g + 1) * f.group] = y
        else:
            item = buf.itemsize
            strides = (f.block_in * item, item)
            for g in range(n_groups):
                base = f.history + g * span
                dest = out[g * f.group : (g + 1) * f.group]
                for sb in f.subs:
                    view: FloatArray = np.ndarray(
                        (f.group, sb.width), np.float32, buf, (base + sb.offset) * item, strides
                    )
                    np.matmul(view, sb.weights, out=dest[:, sb.out0 : sb.out1])
        self._buf = buf[n_groups * span :].copy()
        flat = out.reshape(-1)
        self._n_out += flat.size
        return flat

    def flush(self) -> FloatArray:
        """End of stream: push the pending input (and the filter delay) out with zeros."""
        if self._f is None:
            return np.zeros(0, dtype=np.float32)
        f = self._f
        expected = (self._n_in * f.up + f.down // 2) // f.down
        missing = expected - self._n_out
        if missing <= 0:
            return np.zeros(0, dtype=np.float32)
        delay = math.ceil(f.tail / 2)
        pending = self._buf.size - f.history
        span = f.block_in * f.group
        n_zeros = -(-(pending + delay) // span) * span - pending
        n_in, n_out = self._n_in, self._n_out
        out = self.process(np.zeros(n_zeros, dtype=np.float32))[:missing]
        self._n_in, self._n_out = n_in, n_out + out.size
        return out

    @property
    def state_bytes(self) -> int:
        return int(self._buf.nbytes)

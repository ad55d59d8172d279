"""Stateful, anti-aliased rational resampler to 16 kHz (numpy only).

A Kaiser-windowed sinc low-pass, evaluated as a polyphase filter with matrix products on
fixed blocks aligned to the stream position: every output sample is computed by exactly the
same operations whatever the caller's chunking (bit-identical results), and the matrix
products are small enough for BLAS to stay on one thread.
"""

from __future__ import annotations

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

GEMM_MAX_MACS: Final = 200_000  # OpenBLAS stays single-threaded below 4 * 65536 MACs
# Outputs per group: at most GROUP_OUT (0.5 s at 16 kHz) and, where the ratio allows, a divisor
# of it, so that model chunks (0.5 s or 1 s) end on group boundaries: a detector then never
# waits for the rest of a group.
GROUP_OUT: Final = 8000
MAX_BLOCK_OUT: Final = 256  # outputs per block tried by the layout search
MAX_SUB_OUT: Final = 128  # outputs per sub-block tried by the layout search
# Layout choice: seconds per matrix product ``[rows, width] x [width, n_out]`` (fitted on
# x86-64 with OpenBLAS, one thread): a call, the multiply-adds (outputs beyond a multiple of 8
# cost more, and any such remainder costs a pass of its own: the kernels work on 8 columns),
# packing the weights and writing the outputs.
COST_CALL: Final = 0.61e-6
COST_MAC: Final = 5.4e-11  # per multiply-add of the first n_out // 8 * 8 outputs
COST_MAC_REST: Final = 7.6e-11  # per multiply-add of the other n_out % 8 outputs
COST_REST_PASS: Final = 1.7e-10  # per input element when n_out % 8 != 0
COST_WEIGHT: Final = 9.2e-10  # per weight
COST_STORE: Final = 1.2e-9  # per output


@dataclass(frozen=True, slots=True)
class _Filter:
    """One rate ratio: ``block_out`` outputs per ``block_in`` inputs, ``group`` blocks a call.

    Each block's outputs are cut into ``n_sub`` sub-blocks of ``n_out`` outputs; sub-block
    ``i`` is computed from the ``width`` inputs starting ``offset + i * stride`` from the block
    start (a negative offset reaches into earlier input) times its weights. All the windows of
    a call are one strided view ``[groups, n_sub, group, width]`` of the input (no copy) and
    one batched matrix product computes them: each product ``[group, width] x [width, n_out]``
    always has the same shape and strides, so every output sample is computed by exactly the
    same operations whatever the caller's chunking, and each is small enough for BLAS to stay
    on one thread.
    """

    up: int
    down: int
    block_in: int
    block_out: int
    tail: int
    group: int
    history: int  # input samples kept before the next block
    n_sub: int
    n_out: int
    stride: int
    offset: int
    width: int
    weights: FloatArray  # [width, n_out] (every sub-block alike) or [n_sub, width, n_out]


@dataclass(frozen=True, slots=True)
class _Layout:
    block_in: int
    block_out: int
    group: int
    n_sub: int
    stride: int
    offset: int
    width: int
    cost: float


def _product_cost(rows: int, width: int, n_out: int) -> float:
    """Estimated seconds for one product ``[rows, width] x [width, n_out]``."""
    whole, rest = n_out // 8 * 8, n_out % 8
    macs = rows * width * (whole * COST_MAC + rest * COST_MAC_REST + (rest > 0) * COST_REST_PASS)
    return COST_CALL + macs + width * n_out * COST_WEIGHT + rows * n_out * COST_STORE


def _windows(up: int, down: int, tail: int, n_sub: int, n_out: int) -> list[tuple[int, int, int]]:
    """``(stride, offset, width)`` of uniformly spaced windows covering every sub-block."""
    if n_out * down % up == 0:  # every sub-block starts at the same phase: exact stride
        return [(n_out * down // up, -tail, (n_out - 1) * down // up + tail + 1)]
    first = [i * n_out * down // up - tail for i in range(n_sub)]  # earliest input needed
    last = [((i + 1) * n_out - 1) * down // up for i in range(n_sub)]  # latest input needed
    out = []
    for stride in (n_out * down // up, n_out * down // up + 1):
        offset = min(f - i * stride for i, f in enumerate(first))
        width = max(v - i * stride for i, v in enumerate(last)) - offset + 1
        out.append((stride, offset, width))
    return out


def _layouts(up: int, down: int, tail: int, rate_out: int) -> list[_Layout]:
    """Every valid layout with at most :data:`MAX_BLOCK_OUT` outputs per block, and its cost."""
    out = []
    for k in range(1, max(1, MAX_BLOCK_OUT // up) + 1):
        bi, bo = down * k, up * k
        for n_out in range(1, min(bo, MAX_SUB_OUT) + 1):
            if bo % n_out or (n_out - 1) * down // up + tail >= bi:
                continue  # not a whole number of sub-blocks, or windows longer than a block
            n_sub = bo // n_out
            for stride, offset, width in _windows(up, down, tail, n_sub, n_out):
                # A row stride shorter than the window cannot be a strided view, and the
                # last window must end inside its block (the view of a call ends there).
                if width > bi or (n_sub - 1) * stride + offset + width > bi:
                    continue
                most = max(1, min(GEMM_MAX_MACS // (width * n_out), GROUP_OUT // bo))
                groups = [g for g in range(1, most + 1) if GROUP_OUT % (g * bo) == 0] or [most]
                for group in groups:
                    cost = _product_cost(group, width, n_out)
                    per_s = rate_out / (group * bo) * n_sub * cost
                    out.append(_Layout(bi, bo, group, n_sub, stride, offset, width, per_s))
    return out


def _kernel(
    up: int,
    down: int,
    j: npt.NDArray[np.float64],
    r: npt.NDArray[np.float64],
    gain: float = 1.0,
) -> FloatArray:
    """Weights ``[len(j), len(r)]``: input offset ``j`` -> output ``r`` of a block.

    ``gain`` scales every weight (in float64, before the rounding to float32): a power of
    two leaves every product, so every output, exactly as if the input had been scaled.
    """
    cutoff = min(1.0, up / down) * ROLLOFF  # relative to the input Nyquist frequency
    half = ZERO_CROSSINGS / cutoff  # kernel half-width in input samples (also the delay)
    # Output r sits at input position r * down / up (block coordinates), delayed by ``half``
    # so that it only needs inputs it already has (j <= position).
    u = r[None, :] * down / up - j[:, None] - half
    inside = np.abs(u) <= half
    window = np.i0(KAISER_BETA * np.sqrt(np.clip(1.0 - (u / half) ** 2, 0.0, 1.0)))
    w = np.where(inside, cutoff * np.sinc(cutoff * u) * window, 0.0)
    w /= w.sum(axis=0, keepdims=True)  # unit gain at DC for every phase
    if gain != 1.0:
        w *= gain
    return np.ascontiguousarray(w, dtype=np.float32)


@lru_cache(maxsize=16)
def _design(rate_in: int, rate_out: int, gain: float = 1.0) -> _Filter:
    g = math.gcd(rate_in, rate_out)
    up, down = rate_out // g, rate_in // g
    cutoff = min(1.0, up / down) * ROLLOFF
    tail = math.ceil(2 * ZERO_CROSSINGS / cutoff)
    layouts = _layouts(up, down, tail, rate_out)
    aligned = [lay for lay in layouts if GROUP_OUT % (lay.group * lay.block_out) == 0]
    best = min(aligned or layouts, key=lambda lay: lay.cost)
    n_out = best.block_out // best.n_sub
    subs = [
        _kernel(
            up,
            down,
            np.arange(best.width, dtype=np.float64) + (best.offset + i * best.stride),
            np.arange(i * n_out, (i + 1) * n_out, dtype=np.float64),
            gain,
        )
        for i in range(best.n_sub)
    ]
    same = all(np.array_equal(s, subs[0]) for s in subs[1:])
    weights = subs[0] if same else np.stack(subs)
    return _Filter(
        up,
        down,
        best.block_in,
        best.block_out,
        tail,
        best.group,
        max(0, -best.offset),
        best.n_sub,
        n_out,
        best.stride,
        best.offset,
        best.width,
        weights,
    )


class Resampler:
    """Stateful rational resampler ``rate_in`` -> 16 kHz working on fixed groups of blocks.

    ``gain``: a factor applied to every output, folded into the filter weights (a decoder
    then need not scale integer samples to [-1, 1) in a pass of its own).
    """

    def __init__(self, rate_in: int, rate_out: int = SAMPLE_RATE, gain: float = 1.0) -> None:
        self.rate_in = rate_in
        self.rate_out = rate_out
        self.gain = gain
        self._f = _design(rate_in, rate_out, gain) if rate_in != rate_out else None
        # History for the filter (zeros: silence before the stream) followed by pending input.
        self._buf: FloatArray = np.zeros(self._f.history if self._f else 0, dtype=np.float32)
        self._staged: FloatArray | None = None  # see input_buffer()
        self._n_in = 0
        self._n_out = 0

    def ready_after(self, n_more: int) -> int:
        """How many samples :meth:`process` would return given ``n_more`` more inputs."""
        if self._f is None:
            return n_more
        f = self._f
        n_groups = (self._buf.size + n_more - f.history) // (f.block_in * f.group)
        return max(0, n_groups) * f.group * f.block_out

    def inputs_needed(self, n_out: int) -> int:
        """Fewest more inputs after which :meth:`ready_after` reaches ``n_out`` (0: already)."""
        if n_out <= 0:
            return 0
        if self._f is None:
            return n_out
        f = self._f
        groups = -(-n_out // (f.group * f.block_out))
        return max(0, groups * f.block_in * f.group + f.history - self._buf.size)

    def process(self, x: FloatArray) -> FloatArray:
        """Feed input samples; return every output sample that is now complete."""
        if self._f is None:
            self._n_in += x.size
            self._n_out += x.size
            return x if self.gain == 1.0 else x * np.float32(self.gain)
        self._n_in += x.size
        return self._run(np.concatenate((self._buf, x)) if x.size else self._buf)

    def input_buffer(self, n: int) -> FloatArray:
        """Room for ``n`` more input samples: fill it, then call :meth:`process_buffer`.

        The same as :meth:`process` without the copy of the input (a decoder writes there).
        """
        keep = self._buf.size
        buf = np.empty(keep + n, dtype=np.float32)
        buf[:keep] = self._buf
        self._staged = buf
        return buf[keep:]

    def process_buffer(self) -> FloatArray:
        """Process the samples written into :meth:`input_buffer`; like :meth:`process`."""
        buf, self._staged = self._staged, None
        if buf is None:
            raise RuntimeError("process_buffer() without input_buffer()")
        n = buf.size - self._buf.size
        self._n_in += n
        if self._f is None:
            self._n_out += n
            return buf if self.gain == 1.0 else buf * np.float32(self.gain)
        return self._run(buf)

    def _run(self, buf: FloatArray) -> FloatArray:
        """Every whole group of ``buf`` (kept input, then new input) -> output; keep the rest."""
        f = self._f
        assert f is not None
        span = f.block_in * f.group
        n_groups = (buf.size - f.history) // span
        if n_groups <= 0:
            self._buf = buf
            return np.zeros(0, dtype=np.float32)
        item = buf.itemsize
        windows: FloatArray = np.ndarray(
            (n_groups, f.n_sub, f.group, f.width),
            np.float32,
            buf,
            (f.history + f.offset) * item,
            (span * item, f.stride * item, f.block_in * item, item),
        )
        out = np.empty((n_groups, f.group, f.block_out), dtype=np.float32)
        dest = out.reshape(n_groups, f.group, f.n_sub, f.n_out).transpose(0, 2, 1, 3)
        np.matmul(windows, f.weights, out=dest)
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

"""Signal cues next to the model's scores, computed from the same log-mel frames (numpy only).

``ToneOnsets``: where the loudest alarm-band (1.4-5.2 kHz) mel energy rises sharply — a tone
starting. Inside one beep as the model hears it, a smoke alarm's tone starts once; an alarm
clock's burst of two to four 50-100 ms beeps, which the model hears as one beep, starts
several times. The aggregation counts these onsets per beep (``engine/aggregate.py``).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from .features import mel_edges_hz

BAND_HZ: Final = (1400.0, 5200.0)
RISE: Final = 1.4  # natural-log units of mel energy, about 6 dB

FloatArray = npt.NDArray[np.float32]


def _band_bins() -> slice:
    """Mel bins whose centre frequency lies in :data:`BAND_HZ` (the front end's filters)."""
    centres = mel_edges_hz()[1:-1]
    inside = np.flatnonzero((centres >= BAND_HZ[0]) & (centres <= BAND_HZ[1]))
    return slice(int(inside[0]), int(inside[-1]) + 1)


BAND: Final = _band_bins()


class ToneOnsets:
    """Streaming tone onsets: 1.0 on the first frame of each sharp rise of the alarm band's
    loudest mel energy (more than :data:`RISE` above the lower of the two frames before), else
    0.0. Chunking does not change the result; the state is three numbers."""

    __slots__ = ("_prev", "_rising")

    def __init__(self) -> None:
        self._prev = np.full(2, np.inf, dtype=np.float32)  # the two frames before (none yet)
        self._rising = False

    def reset(self) -> None:
        self._prev[:] = np.inf
        self._rising = False

    def feed(self, logmel: FloatArray) -> FloatArray:
        """Log-mel frames ``[n, N_MELS]`` -> onset flags ``[n]`` (float32 0.0 / 1.0)."""
        n = logmel.shape[0]
        if n == 0:
            return np.zeros(0, dtype=np.float32)
        tone = logmel[:, BAND].max(axis=1)
        hist = np.concatenate((self._prev, tone))
        rise: npt.NDArray[np.bool_] = tone > np.minimum(hist[:-2], hist[1:-1]) + RISE
        onset = rise.copy()
        onset[1:] &= ~rise[:-1]
        onset[0] &= not self._rising
        self._prev = hist[-2:].copy()
        self._rising = bool(rise[-1])
        out: FloatArray = onset.astype(np.float32)
        return out

    @property
    def state_bytes(self) -> int:
        return int(self._prev.nbytes) + 8

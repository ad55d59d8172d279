"""The engine's own pattern analysis of a clip (T3 / T4 rhythms, glass shape, cadence).

The first stage decided on a live stream; here the same streaming ``Detector`` re-reads the
whole clip at ``high`` sensitivity (a clip holds only a few seconds before the onset, so the
verifier asks for the least evidence and lets YAMNet make up the difference).
"""

from __future__ import annotations

import logging
from typing import Final

import numpy as np
import numpy.typing as npt

from .decision import PatternEvidence, PatternFinding
from .engine_bridge import ENGINE_ERROR, engine_detector, engine_runtime

_LOGGER = logging.getLogger(__name__)
SENSITIVITY: Final = "high"


def engine_model_version() -> str | None:
    """The shipped local model's version, or None when the engine cannot load it."""
    if engine_runtime is None:
        return None
    try:
        model = engine_runtime.get_model()
    except Exception:  # the engine is optional for the verifier
        return None
    version = getattr(model, "version", None)
    return str(version) if version is not None else None


def analyse(samples: npt.NDArray[np.float32]) -> PatternEvidence:
    """Run the engine's Detector over the clip; ``available`` False when it cannot run."""
    if engine_detector is None:
        return PatternEvidence(available=False, note=ENGINE_ERROR or "engine not importable")
    try:
        detector = engine_detector.Detector(sensitivity=SENSITIVITY)
        detections = list(detector.feed_float(samples)) + list(detector.flush())
    except Exception as err:  # degrade to YAMNet alone, never fail a request
        _LOGGER.warning("engine pattern analysis failed: %s", err)
        return PatternEvidence(available=False, note=f"engine analysis failed: {err}")
    found: dict[str, PatternFinding] = {}
    for det in detections:
        if not det.active:
            continue
        best = found.get(det.event)
        if best is None or det.confidence > best.confidence:
            found[det.event] = PatternFinding(float(det.confidence), str(det.pattern))
    return PatternEvidence(available=True, found=found)

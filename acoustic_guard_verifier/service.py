"""One verification: decode the clip, tag it with YAMNet, read the engine's patterns, decide."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from . import __version__
from .audio_in import SAMPLE_RATE, decode_clip
from .decision import RULES, EventRule, PatternEvidence, decide, top_labels
from .patterns import analyse, engine_model_version
from .protocol import ClipMetadata
from .tagger import YamnetTagger

PatternAnalyser = Callable[[npt.NDArray[np.float32]], PatternEvidence]


@dataclass(slots=True)
class VerifierService:
    """The loaded models; ``verify`` is blocking (run it in an executor) and thread-safe."""

    tagger: YamnetTagger
    patterns: PatternAnalyser = analyse
    model_name: str = "yamnet"
    rules: Mapping[str, EventRule] = field(default_factory=lambda: dict(RULES))

    @classmethod
    def load(cls, threads: int = 1) -> VerifierService:
        """Load YAMNet and warm both models up (slow: call it once, in an executor)."""
        tagger = YamnetTagger(threads=threads)
        service = cls(tagger=tagger)
        warm = np.zeros(SAMPLE_RATE, dtype=np.float32)
        tagger.tag(warm)
        service.patterns(warm)
        version = engine_model_version()
        name = f"yamnet+acoustic_guard-{version}" if version else "yamnet"
        service.model_name = name
        return service

    def verify(self, clip: bytes, metadata: ClipMetadata) -> dict[str, Any]:
        """The response body for one clip (raises ``ProtocolError`` for unusable audio)."""
        started = time.perf_counter()
        samples = decode_clip(clip)
        scores = self.tagger.tag(samples)
        patterns = self.patterns(samples)
        verdict = decide(metadata.event, scores, patterns, self.rules)
        return {
            "verified": verdict.verified,
            "confidence": verdict.confidence,
            "event": metadata.event,
            "labels": top_labels(scores, self.tagger.names),
            "model": self.model_name,
            "elapsed_ms": round((time.perf_counter() - started) * 1000.0, 1),
            "rule": verdict.rule,
            "evidence": {
                "strong_score": verdict.strong_score,
                "support_score": verdict.support_score,
                "pattern": verdict.pattern,
                "pattern_analysis": patterns.available,
                "clip_seconds": round(samples.size / SAMPLE_RATE, 3),
            },
            "verifier_version": __version__,
        }

"""Reference second-stage verifier for Acoustic Guard.

An aiohttp service (``python -m acoustic_guard_verifier``) that receives a candidate
detection's clip, runs a much larger audio tagger (YAMNet) together with the engine's own
pattern analysis, and answers whether the event really happened. The wire protocol is
documented in ``docs/verifier-openapi.yaml``.
"""

from __future__ import annotations

__version__ = "0.1.0"

"""The engine modules the verifier reuses, imported once, at import time, in one thread.

(Importing lazily from executor threads races inside the import system.) When the engine
cannot be imported the verifier still runs: WAV decoding falls back to the standard library
and the decision to YAMNet alone; ``ENGINE_ERROR`` says why.
"""

from __future__ import annotations

import importlib
from types import ModuleType

_PACKAGE = "custom_components.acoustic_guard.engine"

try:  # the engine without Home Assistant (the verifier may run on a machine without it)
    from acoustic_guard_cli import bare_integration_package

    bare_integration_package()
except ImportError:  # not installed from this repository: import the package as it is
    pass


def _import(name: str) -> tuple[ModuleType | None, str | None]:
    try:
        return importlib.import_module(f"{_PACKAGE}.{name}"), None
    except ImportError as err:  # depends on the checkout and its dependencies
        return None, f"engine module {name} not importable: {err}"


engine_audio, _audio_error = _import("audio")
engine_wavfile, _wavfile_error = _import("wavfile")
engine_detector, _detector_error = _import("detector")
engine_runtime, _runtime_error = _import("runtime")
ENGINE_ERROR: str | None = _detector_error or _runtime_error
DECODER_ERROR: str | None = _wavfile_error or _audio_error

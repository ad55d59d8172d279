"""Fixtures of the engine tests: plain pytest, no Home Assistant instance, no sockets.

The suite-wide ``tests/conftest.py`` enables custom integrations for every test, which
needs a running Home Assistant; the engine tests override that autouse fixture with a no-op.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest

from custom_components.acoustic_guard.engine.runtime import Model, get_model

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / "shared"
ALARM_T3 = SHARED / "data" / "alarms" / "ALRMElec_Smoke detector alarm (ID 0800)_BSB.wav"
ALARM_STEREO = SHARED / "data" / "alarms" / "325367__moonlightshadow__fire-house-alarm.wav"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> Generator[None]:
    """Engine tests need no Home Assistant: replace the suite-wide autouse fixture."""
    yield


def _shared_file(path: Path) -> Path:
    if not path.is_file():
        pytest.fail(f"team data missing: {path} (shared/ must sit beside the repository)")
    return path


@pytest.fixture(scope="session")
def alarm_wav() -> Path:
    """A real T3 smoke alarm recording (48 kHz mono int16)."""
    return _shared_file(ALARM_T3)


@pytest.fixture(scope="session")
def stereo_wav() -> Path:
    """A real alarm recording in 44.1 kHz stereo."""
    return _shared_file(ALARM_STEREO)


@pytest.fixture(scope="session")
def ort_model() -> Model:
    return get_model("onnxruntime")


@pytest.fixture(scope="session")
def numpy_model() -> Model:
    return get_model("numpy")

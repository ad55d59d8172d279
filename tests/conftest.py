"""Test configuration shared by the whole suite.

``custom_components.acoustic_guard`` is imported first so that pytest-homeassistant-custom-
component finds the integration; custom integrations are enabled for every test.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

import custom_components.acoustic_guard  # noqa: F401


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(request: pytest.FixtureRequest) -> Generator[None]:
    """Let Home Assistant load custom_components/acoustic_guard in every test that uses it.

    Only tests that use a ``hass`` instance get one: the engine and verifier tests are plain
    pytest and must not pay for (or depend on) a Home Assistant instance.
    """
    if "hass" in request.fixturenames:
        request.getfixturevalue("enable_custom_integrations")
    yield

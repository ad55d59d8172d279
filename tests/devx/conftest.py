"""Fixtures of the developer-tool tests: plain pytest and loopback sockets, no Home Assistant."""

from __future__ import annotations

import sys
from collections.abc import Generator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # devtools/ is not an installed package
    sys.path.insert(0, str(REPO_ROOT))


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> Generator[None]:
    """These tests need no Home Assistant: replace the suite-wide autouse fixture."""
    yield

"""Helpers of the guard tests: verifiers on loopback, a Manual alarm panel, real detections.

The verifiers are real HTTP servers on 127.0.0.1: the reference verifier
(``acoustic_guard_verifier``: YAMNet + the engine) and small stand-ins whose answer a test
chooses (slow, garbage, rejecting), speaking the same protocol.
"""

from __future__ import annotations

import asyncio
import functools
import json
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component

from acoustic_guard_verifier.server import ServerConfig, create_app
from acoustic_guard_verifier.service import VerifierService
from custom_components.acoustic_guard import guard as guard_module
from custom_components.acoustic_guard.engine.types import Detection
from custom_components.acoustic_guard.hub import SatelliteRuntime

TOKEN = "guard-test-token-7c1e"
PANEL = "alarm_control_panel.house"

FAST_GUARD = guard_module.GuardTiming(capture_timeout=20.0, confirmed_hold=1.0, issue_after=3)

StartApp = Callable[[web.Application], Awaitable[str]]


@functools.cache
def reference_service() -> VerifierService:
    """YAMNet and the engine, loaded once per test session (about 6 s)."""
    return VerifierService.load()


def reference_verifier(token: str = TOKEN) -> web.Application:
    """The real reference verifier."""
    return create_app(ServerConfig(token=token, max_bytes=4_000_000), service=reference_service())


def stand_in_verifier(
    *,
    verified: bool = True,
    confidence: float = 0.9,
    delay: float = 0.0,
    status: int = 200,
    body: bytes | None = None,
    seen: list[dict[str, Any]] | None = None,
) -> web.Application:
    """A verifier whose answer the test chooses (same protocol, real HTTP)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        if seen is not None:
            clip = form.get("clip")
            meta = form.get("metadata")
            seen.append(
                {
                    "authorization": request.headers.get("Authorization"),
                    "clip_bytes": len(clip.file.read()) if isinstance(clip, web.FileField) else 0,
                    "metadata": json.loads(
                        bytes(meta) if isinstance(meta, bytearray) else str(meta)
                    ),
                }
            )
        if delay:
            await asyncio.sleep(delay)
        if body is not None:
            return web.Response(status=status, body=body, content_type="application/json")
        return web.json_response({"verified": verified, "confidence": confidence}, status=status)

    app = web.Application()
    app.router.add_post("/v1/verify", handle)
    return app


class AppServers:
    """Start aiohttp applications on 127.0.0.1 (free ports); all cleaned up on exit."""

    def __init__(self) -> None:
        self._runners: list[web.AppRunner] = []

    async def start(self, app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        self._runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    async def __aenter__(self) -> AppServers:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for runner in reversed(self._runners):
            await runner.cleanup()


def use_fast_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shorter guard timings (the confirmed-hold and the capture timeout)."""
    monkeypatch.setattr(guard_module, "TIMING", FAST_GUARD)


async def setup_panel(hass: HomeAssistant) -> str:
    """The Manual alarm panel (no code, no delays; sounds 2 s): ``alarm_control_panel.house``."""
    assert await async_setup_component(
        hass,
        "alarm_control_panel",
        {
            "alarm_control_panel": [
                {
                    "platform": "manual",
                    "name": "House",
                    "code_arm_required": False,
                    "arming_time": 0,
                    "delay_time": 0,
                    "trigger_time": 2,
                    "disarm_after_trigger": False,
                }
            ]
        },
    )
    await hass.async_block_till_done()
    return PANEL


async def panel_action(hass: HomeAssistant, action: str) -> None:
    """``alarm_arm_away``, ``alarm_disarm``, … on the Manual panel."""
    await hass.services.async_call(
        "alarm_control_panel", action, {"entity_id": PANEL}, blocking=True
    )
    await hass.async_block_till_done()


def closed_port() -> int:
    """A loopback port nobody listens on (a verifier that is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def detection_now(
    satellite: SatelliteRuntime,
    event: str,
    *,
    latency: float = 0.5,
    confidence: float = 0.9,
    pattern: str = "",
) -> Detection:
    """A real ``Detection`` that began ``latency`` s ago on the satellite's stream clock."""
    clips = satellite.entry.runtime_data.clips
    assert clips is not None
    buffer = clips.buffer(satellite.subentry_id)
    now = buffer.end - buffer.session_time(0.0)
    return Detection(event, True, max(now - latency, 0.0), None, now, confidence, pattern)


def ended(detection: Detection, after: float = 1.0) -> Detection:
    """The engine's "off" for ``detection``."""
    end = detection.time + after
    return Detection(
        detection.event,
        False,
        detection.start,
        end,
        end,
        detection.confidence,
        detection.pattern,
    )


async def sidecar(hass: HomeAssistant, satellite: SatelliteRuntime, clip_id: str) -> dict[str, Any]:
    """A stored clip's JSON metadata (read by the clip store)."""
    clips = satellite.entry.runtime_data.clips
    assert clips is not None
    return dict(await hass.async_add_executor_job(clips.store.read_meta, clip_id))

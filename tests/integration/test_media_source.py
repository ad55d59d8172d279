"""Clips in the media browser: browse satellite → date → clip, resolve, play over HTTP, delete."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from http import HTTPStatus
from pathlib import Path

import pytest
from homeassistant.components import media_source
from homeassistant.components.media_player.errors import BrowseError
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)

from custom_components.acoustic_guard.const import DOMAIN
from custom_components.acoustic_guard.engine.types import Detection

from .conftest import setup_hub, wait_for
from .wyoming_mic import MicServer, quiet_room, stream


@pytest.fixture(autouse=True)
def config_dir(hass: HomeAssistant, tmp_path: Path) -> Path:
    """A private config folder: clips are written below it."""
    hass.config.config_dir = str(tmp_path)
    return tmp_path


async def test_browse_resolve_play_delete(
    hass: HomeAssistant,
    mic_server: Callable[..., Awaitable[MicServer]],
    hass_client: ClientSessionGenerator,
    hass_client_no_auth: ClientSessionGenerator,
    hass_ws_client: WebSocketGenerator,
) -> None:
    assert await async_setup_component(hass, "media_source", {})
    server = await mic_server(stream(quiet_room(8.0, seed=5), speed=4))
    entry = await setup_hub(hass, {"Kitchen": server.port})
    ws = await hass_ws_client(hass)  # (a test client freezes the HTTP routes: after set-up)
    satellite_id = next(iter(entry.subentries))
    clips = entry.runtime_data.clips
    assert clips is not None
    buffer = clips.buffer(satellite_id)
    await wait_for(hass, lambda: buffer.end - buffer.session_time(0) >= 12.0, what="audio")
    onset = buffer.end - buffer.session_time(0) - 7.5
    ref = await clips.async_capture(
        satellite_id, Detection("glass_break", True, onset, None, onset + 0.4, 0.81, "shatter")
    )
    assert ref is not None
    await clips.async_annotate(ref.clip_id, verification="verified", verified=True)

    root = await media_source.async_browse_media(hass, f"media-source://{DOMAIN}")
    assert root.title == "Acoustic Guard"
    assert [child.title for child in root.children] == ["Kitchen"]
    satellite = await media_source.async_browse_media(hass, root.children[0].media_content_id)
    assert len(satellite.children) == 1
    day = await media_source.async_browse_media(hass, satellite.children[0].media_content_id)
    assert [child.media_content_id for child in day.children] == [ref.media_content_id]
    item = day.children[0]
    assert item.can_play
    assert "Glass break" in item.title
    assert "81%" in item.title
    assert "verified" in item.title

    played = await media_source.async_resolve_media(hass, ref.media_content_id, None)
    assert played.mime_type == "audio/wav"
    client = await hass_client()
    response = await client.get(played.url)
    assert response.status == HTTPStatus.OK
    assert response.headers["Content-Type"] == "audio/wav"
    assert await response.read() == ref.wav
    # The frontend's way: resolve over the websocket gives a signed URL that plays without
    # a bearer token; without either, the clip is not served.
    await ws.send_json(
        {"id": 1, "type": "media_source/resolve_media", "media_content_id": ref.media_content_id}
    )
    reply = await ws.receive_json()
    assert reply["success"], reply
    assert "authSig=" in reply["result"]["url"]
    anonymous = await hass_client_no_auth()
    signed = await anonymous.get(reply["result"]["url"])
    assert signed.status == HTTPStatus.OK
    assert await signed.read() == ref.wav
    assert (await anonymous.get(played.url)).status == HTTPStatus.UNAUTHORIZED
    for bad in ("nope/2026-01-01/000000_x.wav", f"{satellite_id}/2026-01-01/000000_x.wav"):
        assert (await client.get(f"/api/acoustic_guard/clips/{bad}")).status == 404

    await hass.services.async_call(
        DOMAIN, "delete_clip", {"media_content_id": ref.media_content_id}, blocking=True
    )
    assert (await client.get(played.url)).status == HTTPStatus.NOT_FOUND
    with pytest.raises(media_source.Unresolvable):
        await media_source.async_resolve_media(hass, ref.media_content_id, None)
    root = await media_source.async_browse_media(hass, f"media-source://{DOMAIN}")
    assert root.children == []
    with pytest.raises(BrowseError):
        await media_source.async_browse_media(hass, satellite.media_content_id)

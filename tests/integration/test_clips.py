"""Detection clips: real audio from a real Wyoming server into the ring buffer, real files.

Clips are cut around real ``Detection`` objects (the engine's own type) from the audio the
integration actually received; every test gets its own config folder (``tmp_path``).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
import wave
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.acoustic_guard.clip_store import ClipStore
from custom_components.acoustic_guard.clips import ClipManager, ClipRef
from custom_components.acoustic_guard.const import (
    CONF_CLIP_MAX_AGE_DAYS,
    CONF_CLIP_MAX_SIZE_MB,
    DOMAIN,
    ISSUE_CLIP_STORAGE,
)
from custom_components.acoustic_guard.engine.audio import to_16k_mono
from custom_components.acoustic_guard.engine.types import AudioFormat, Detection

from .conftest import (
    model_version,
    needs_trained_model,
    offline_events,
    satellite_subentry,
    setup_hub,
    state_of,
    wait_for,
)
from .wyoming_mic import SMOKE_WAV, MicServer, quiet_room, read_wav, stream

RATE = 16000


@pytest.fixture(autouse=True)
def config_dir(hass: HomeAssistant, tmp_path: Path) -> Path:
    """A private config folder: clips are written below it."""
    hass.config.config_dir = str(tmp_path)
    return tmp_path


def _clips(entry: MockConfigEntry) -> ClipManager:
    clips = entry.runtime_data.clips
    assert clips is not None
    return clips


def _detection(onset: float, event: str = "smoke_alarm", latency: float = 0.5) -> Detection:
    return Detection(event, True, onset, None, onset + latency, 0.93, "T3")


def _wav_samples(data: bytes) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(data), "rb") as wav:
        assert wav.getnchannels() == 1
        assert wav.getsampwidth() == 2
        return np.frombuffer(wav.readframes(wav.getnframes()), "<i2"), wav.getframerate()


async def _streaming_hub(
    hass: HomeAssistant,
    mic_server: Callable[..., Awaitable[MicServer]],
    options: dict[str, object] | None = None,
    seconds: float = 6.0,
    alarm: bool = False,
) -> tuple[MockConfigEntry, str]:
    """A hub with one satellite streaming at 4x: the smoke alarm recording (48 kHz) or a
    quiet room (nothing to detect, so the guard keeps no clips of its own meanwhile)."""
    audio = read_wav(SMOKE_WAV) if alarm else quiet_room(20.0, seed=7)
    server = await mic_server(stream(audio, speed=4))
    entry = await setup_hub(hass, {"Kitchen": server.port}, options)
    satellite_id = next(iter(entry.subentries))
    buffer = _clips(entry).buffer(satellite_id)
    await wait_for(hass, lambda: buffer.end - buffer.session_time(0) >= seconds, what="audio")
    return entry, satellite_id


async def _capture_now(entry: MockConfigEntry, satellite_id: str, back: float = 1.0) -> ClipRef:
    """A clip of a detection whose onset was ``back`` seconds ago (detector clock)."""
    clips = _clips(entry)
    buffer = clips.buffer(satellite_id)
    onset = buffer.end - buffer.session_time(0) - back
    ref = await clips.async_capture(satellite_id, _detection(onset))
    assert ref is not None
    return ref


async def test_clip_has_the_audio_around_the_onset(
    hass: HomeAssistant, mic_server: Callable[..., Awaitable[MicServer]]
) -> None:
    entry, satellite_id = await _streaming_hub(hass, mic_server, seconds=4.0, alarm=True)
    clips = _clips(entry)
    buffer = clips.buffer(satellite_id)
    onset = buffer.end - buffer.session_time(0) - 0.5  # the post-roll is still to come
    ref = await clips.async_capture(satellite_id, _detection(onset))
    assert ref is not None

    # The file is the returned WAV: 16 kHz mono, 3 s before the onset + 7 s after it.
    assert ref.path.read_bytes() == ref.wav
    samples, rate = _wav_samples(ref.wav)
    assert rate == RATE
    assert abs(samples.size / RATE - 10.0) < 0.05
    assert np.sqrt(np.mean((samples / 32768.0) ** 2)) > 0.01  # the alarm, not silence
    # ... and it is the recording at the right place: what the satellite sent from
    # onset - 3 s (the stream started at the recording's first sample).
    # The alarm's beeps (0.5 s on / 0.5 s off) line up: compare 20 ms loudness envelopes.
    source = to_16k_mono(*_smoke_pcm(), high_pass=False)
    first = round((onset - 3.0) * RATE)
    expected = _envelope(source[first : first + samples.size])
    got = _envelope(samples / 32767.0)[: expected.size]
    lags = {lag: _corr(np.roll(got, lag), expected) for lag in range(-10, 11)}
    best = max(lags, key=lambda lag: lags[lag])
    assert abs(best) <= 1, lags  # within 20 ms
    assert lags[best] > 0.9, lags

    # Sidecar metadata next to it.
    meta = json.loads(ref.path.with_suffix(".json").read_text())
    assert meta["event"] == "smoke_alarm"
    assert meta["satellite"] == "Kitchen"
    assert meta["satellite_id"] == satellite_id
    assert meta["confidence"] == 0.93
    assert meta["pattern"] == "T3"
    assert meta["verified"] is None
    assert meta["pre_roll_s"] == 3.0
    assert meta["duration_s"] == pytest.approx(10.0, abs=0.05)
    assert meta["clip_id"] == ref.clip_id
    assert meta["start"]  # ISO time of the onset
    # Stored where the docs say, addressed by a media-source id.
    relative = ref.path.relative_to(Path(hass.config.path("acoustic_guard", "clips")))
    date, name = relative.parts[1], relative.parts[2]
    assert relative.parts[0] == satellite_id
    assert name.endswith("_smoke_alarm.wav")
    assert ref.clip_id == f"{satellite_id}/{date}/{name.removesuffix('.wav')}"
    assert ref.media_content_id == f"media-source://acoustic_guard/{ref.clip_id}"
    # Nothing else was written: WAVs with their sidecars (the guard may have kept the clip of
    # a real detection of this alarm too), no temporary files, no other audio.
    files = await hass.async_add_executor_job(_files_under, Path(hass.config.path(DOMAIN)))
    wavs = {p.with_suffix("") for p in files if p.suffix == ".wav"}
    sidecars = {p.with_suffix("") for p in files if p.suffix == ".json"}
    assert ref.path.with_suffix("") in wavs
    assert wavs == sidecars
    assert all(p.is_dir() or p.suffix in (".wav", ".json") for p in files)

    await clips.async_annotate(ref.clip_id, verified=True, verifier_confidence=0.88)
    meta = json.loads(ref.path.with_suffix(".json").read_text())
    assert meta["verified"] is True
    assert meta["verifier_confidence"] == 0.88
    assert meta["event"] == "smoke_alarm"
    # Annotating a clip that is gone is harmless.
    await clips.async_annotate(f"{satellite_id}/2000-01-01/000000_smoke_alarm", verified=False)


def _files_under(folder: Path) -> list[Path]:
    return list(folder.rglob("*"))


def _put_file_at(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_text("not a folder")


def _envelope(x: np.ndarray, frame: int = 320) -> np.ndarray:
    n = x.size // frame
    return np.sqrt(np.mean(np.square(x[: n * frame].reshape(n, frame)), axis=1))


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def _smoke_pcm() -> tuple[bytes, AudioFormat]:
    clip = read_wav(SMOKE_WAV)
    return clip.pcm, AudioFormat(clip.rate, clip.width, clip.channels)


async def test_two_clips_same_second_and_diagnostics(
    hass: HomeAssistant,
    mic_server: Callable[..., Awaitable[MicServer]],
    hass_client: ClientSessionGenerator,
) -> None:
    entry, satellite_id = await _streaming_hub(hass, mic_server)
    first = await _capture_now(entry, satellite_id, back=6.0)
    second = await _capture_now(entry, satellite_id, back=6.0)
    assert first.clip_id != second.clip_id
    assert first.path.is_file()
    assert second.path.is_file()
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    [clip_stats] = diagnostics["clips"]["satellites"]
    assert clip_stats["name"] == "Kitchen"
    # (the guard may have kept clips of real detections in this recording too)
    assert clip_stats["clips"] == len(list(first.path.parent.glob("*.wav"))) >= 2
    assert clip_stats["bytes"] == sum(
        p.stat().st_size for p in first.path.parent.iterdir() if p.is_file()
    )
    assert "RIFF" not in json.dumps(diagnostics)


async def test_delete_actions(
    hass: HomeAssistant, mic_server: Callable[..., Awaitable[MicServer]]
) -> None:
    entry, satellite_id = await _streaming_hub(hass, mic_server)
    one = await _capture_now(entry, satellite_id, back=5.0)
    two = await _capture_now(entry, satellite_id, back=5.0)
    three = await _capture_now(entry, satellite_id, back=5.0)

    await hass.services.async_call(DOMAIN, "delete_clip", {"clip_id": one.clip_id}, blocking=True)
    assert not one.path.exists()
    assert not one.path.with_suffix(".json").exists()
    await hass.services.async_call(
        DOMAIN, "delete_clip", {"media_content_id": two.media_content_id}, blocking=True
    )
    assert not two.path.exists()
    assert three.path.exists()

    for bad in (one.clip_id, "../../secrets", f"{satellite_id}/2026-01-01/../../x"):
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(DOMAIN, "delete_clip", {"clip_id": bad}, blocking=True)
        assert err.value.translation_key == "clip_not_found"

    devices = dr.async_get(hass)
    hub_device = devices.async_get_device(identifiers={(DOMAIN, entry.entry_id)})
    assert hub_device is not None
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "delete_clips", {"device_id": hub_device.id}, blocking=True
        )
    assert err.value.translation_key == "not_a_satellite"

    device = devices.async_get_device(identifiers={(DOMAIN, satellite_id)})
    assert device is not None
    await hass.services.async_call(DOMAIN, "delete_clips", {"device_id": device.id}, blocking=True)
    assert not three.path.exists()
    folder = Path(hass.config.path("acoustic_guard", "clips", satellite_id))
    assert not await hass.async_add_executor_job(folder.exists)


def _fake_old_clip(store: ClipStore, satellite_id: str, name: str, age_days: float) -> Path:
    """A clip of 10 s of real audio (~320 kB), ``age_days`` old."""
    samples = np.round(to_16k_mono(*_smoke_pcm(), high_pass=False)[: 10 * RATE] * 32767)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(samples.astype("<i2").tobytes())
    info = store.write(satellite_id, "2026-01-01", name, buffer.getvalue(), {"event": "footsteps"})
    stamp = time.time() - age_days * 86400
    os.utime(info.path, (stamp, stamp))
    return info.path


async def test_retention_at_start_up_by_age_and_size(
    hass: HomeAssistant, mic_server: Callable[..., Awaitable[MicServer]]
) -> None:
    server = await mic_server(stream(quiet_room(8.0), speed=4))
    entry = MockConfigEntry(
        domain=DOMAIN,
        data={},
        options={CONF_CLIP_MAX_AGE_DAYS: 7, CONF_CLIP_MAX_SIZE_MB: 1},  # 3 clips of 10 s
        subentries_data=[satellite_subentry("Kitchen", server.port)],
    )
    entry.add_to_hass(hass)
    satellite_id = next(iter(entry.subentries))
    store = ClipStore(Path(hass.config.path("acoustic_guard", "clips")))
    paths = await hass.async_add_executor_job(
        lambda: {
            name: _fake_old_clip(store, satellite_id, name, age)
            for name, age in (
                ("000001_footsteps", 30.0),  # too old
                ("000002_footsteps", 6.0),  # oldest that is young enough: over the size
                ("000003_footsteps", 5.0),
                ("000004_footsteps", 4.0),
                ("000005_footsteps", 3.0),
            )
        }
    )
    orphan = await hass.async_add_executor_job(
        _fake_old_clip, store, "REMOVEDSATELLITE", "000006_footsteps", 0.0
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    # retention walks newest first, so the oldest clip is the last one it deletes: wait for
    # every deletion (waiting for 000002 alone raced the executor on a busy machine)
    gone = ("000001_footsteps", "000002_footsteps")
    await wait_for(
        hass,
        lambda: not any(paths[n].exists() for n in gone) and not orphan.exists(),
        what="retention",
    )
    await hass.async_block_till_done()
    kept = sorted(name for name, path in paths.items() if path.exists())
    assert kept == ["000003_footsteps", "000004_footsteps", "000005_footsteps"]
    assert not orphan.exists()  # a satellite that is no longer configured

    # A new clip pushes the next oldest out (retention after each clip).
    clips = _clips(entry)
    buffer = clips.buffer(satellite_id)
    await wait_for(hass, lambda: buffer.end - buffer.session_time(0) >= 4.0, what="audio")
    ref = await _capture_now(entry, satellite_id, back=4.0)
    await wait_for(hass, lambda: not paths["000003_footsteps"].exists(), what="size retention")
    assert ref.path.exists()
    assert paths["000005_footsteps"].exists()

    # Every hour: a clip that became too old meanwhile goes.
    late = await hass.async_add_executor_job(
        _fake_old_clip, store, satellite_id, "000007_footsteps", 8.0
    )
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=61))
    await wait_for(hass, lambda: not late.exists(), what="hourly retention")
    assert ref.path.exists()


async def test_unwritable_folder_raises_issue_and_detection_goes_on(
    hass: HomeAssistant,
    mic_server: Callable[..., Awaitable[MicServer]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry, satellite_id = await _streaming_hub(hass, mic_server)
    clips = _clips(entry)
    issues = ir.async_get(hass)
    # A file where the satellite's clip folder should be: mkdir fails, even for root.
    blocker = Path(hass.config.path("acoustic_guard", "clips", satellite_id))
    await hass.async_add_executor_job(_put_file_at, blocker)

    buffer = clips.buffer(satellite_id)
    onset = buffer.end - buffer.session_time(0) - 5.0
    assert await clips.async_capture(satellite_id, _detection(onset)) is None
    assert await clips.async_capture(satellite_id, _detection(onset)) is None
    issue = issues.async_get_issue(DOMAIN, ISSUE_CLIP_STORAGE)
    assert issue is not None
    assert issue.translation_key == ISSUE_CLIP_STORAGE
    assert sum("Cannot write detection clips" in r.getMessage() for r in caplog.records) == 1

    # Detection itself goes on: the stream keeps flowing and a detection turns its sensor on.
    satellite = entry.runtime_data.satellites[satellite_id]
    processed = satellite.stream.stats.processed_s
    await wait_for(hass, lambda: satellite.stream.stats.processed_s > processed + 1.0)
    satellite.async_handle_detections([_detection(buffer.end - buffer.session_time(0) - 1.0)])
    await wait_for(
        hass,
        lambda: state_of(hass, "binary_sensor.kitchen_smoke_alarm") == STATE_ON,
        what="smoke on without clip storage",
    )

    # The folder is fixed: the next clip is written and the issue goes away by itself.
    await hass.async_add_executor_job(blocker.unlink)
    ref = await _capture_now(entry, satellite_id, back=5.0)
    assert ref.path.is_file()
    assert issues.async_get_issue(DOMAIN, ISSUE_CLIP_STORAGE) is None


async def test_removing_the_integration_deletes_clips(
    hass: HomeAssistant, mic_server: Callable[..., Awaitable[MicServer]]
) -> None:
    entry, satellite_id = await _streaming_hub(hass, mic_server)
    ref = await _capture_now(entry, satellite_id, back=5.0)
    assert ref.path.is_file()
    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert not await hass.async_add_executor_job(Path(hass.config.path(DOMAIN)).exists)


async def test_retention_options(
    hass: HomeAssistant, mic_server: Callable[..., Awaitable[MicServer]]
) -> None:
    server = await mic_server(stream(quiet_room(4.0), speed=2))
    entry = await setup_hub(hass, {"Kitchen": server.port})
    assert _clips(entry).retention.max_age_days == 30
    assert _clips(entry).retention.max_mb == 500
    result = await hass.config_entries.options.async_init(entry.entry_id)
    defaults = {
        str(key): key.default()
        for key in result["data_schema"].schema
        if callable(getattr(key, "default", None))
    }
    assert defaults[CONF_CLIP_MAX_AGE_DAYS] == 30
    assert defaults[CONF_CLIP_MAX_SIZE_MB] == 500
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        user_input={
            "enabled_events": ["smoke_alarm", "co_alarm", "glass_break", "footsteps"],
            CONF_CLIP_MAX_AGE_DAYS: 7,
            CONF_CLIP_MAX_SIZE_MB: 100,
        },
    )
    assert result["type"] == "create_entry"
    assert entry.options[CONF_CLIP_MAX_AGE_DAYS] == 7
    assert entry.options[CONF_CLIP_MAX_SIZE_MB] == 100
    await hass.async_block_till_done()
    await wait_for(hass, lambda: entry.state is ConfigEntryState.LOADED)
    assert _clips(entry).retention.max_age_days == 7
    assert _clips(entry).retention.max_mb == 100


@needs_trained_model
async def test_real_detection_keeps_a_clip_from_before_the_onset(
    hass: HomeAssistant, mic_server: Callable[..., Awaitable[MicServer]]
) -> None:
    """Whole chain: real alarm after 6 s of quiet → engine detection → guard → clip."""
    alarm = read_wav(SMOKE_WAV)
    if "smoke_alarm" not in await hass.async_add_executor_job(offline_events, alarm, None):
        pytest.skip(f"the shipped model ({model_version()}) misses this alarm offline too")
    quiet = quiet_room(6.0, rate=alarm.rate)
    server = await mic_server(stream(quiet, alarm, speed=4))
    entry = await setup_hub(hass, {"Kitchen": server.port})
    satellite_id = next(iter(entry.subentries))
    store = _clips(entry).store

    def smoke_clips() -> list[Path]:
        return [c.path for c in store.clips(satellite_id) if c.stem.endswith("_smoke_alarm")]

    found: list[Path] = []

    async def poll() -> None:
        found[:] = await hass.async_add_executor_job(smoke_clips)

    loop_deadline = asyncio.get_running_loop().time() + 40
    while not found and asyncio.get_running_loop().time() < loop_deadline:
        await poll()
        await asyncio.sleep(0.2)
    assert found, "no clip of the detected alarm"
    meta = json.loads(await hass.async_add_executor_job(found[0].with_suffix(".json").read_text))
    samples, _ = _wav_samples(await hass.async_add_executor_job(found[0].read_bytes))
    assert samples.size / RATE == pytest.approx(10.0, abs=0.1)
    # The engine's onset is where the alarm starts: quiet before it, loud after it.
    onset = round(meta["pre_roll_s"] * RATE)
    before = samples[: max(onset - RATE // 2, 0)] / 32768.0
    after = samples[onset : onset + 3 * RATE] / 32768.0
    assert before.size > RATE  # most of the 3 s pre-roll is there
    assert np.sqrt(np.mean(after**2)) > 10 * np.sqrt(np.mean(before**2))

"""Diagnostics: settings, satellites and stream statistics; never audio, host names redacted."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant

from .const import CONF_VERIFIER_TOKEN, CONF_VERIFIER_URL
from .hub import AcousticGuardConfigEntry, SatelliteRuntime

TO_REDACT = {CONF_HOST, "host", "unique_id", CONF_VERIFIER_URL, CONF_VERIFIER_TOKEN}


def _satellite(satellite: SatelliteRuntime) -> dict[str, Any]:
    stats = satellite.stream.stats
    now = time.monotonic()
    return {
        "name": satellite.name,
        "host": satellite.host,
        "port": satellite.port,
        "available": satellite.available,
        "connects": stats.connects,
        "failures": stats.failures,
        "last_error": stats.last_error,
        "down_for_s": None if stats.down_since is None else round(now - stats.down_since, 1),
        "last_audio_s_ago": None if stats.last_audio is None else round(now - stats.last_audio, 1),
        "audio_format": (
            None if stats.audio_format is None else dataclasses.asdict(stats.audio_format)
        ),
        "received_s": round(stats.received_s, 1),
        "processed_s": round(stats.processed_s, 1),
        "dropped_s": round(stats.dropped_s, 2),
        "dropped_chunks": stats.dropped_chunks,
        "bad_events": stats.bad_events,
        "inference_errors": stats.inference_errors,
        "format_changes": stats.format_changes,
        "detections": stats.detections,
        "level_dbfs": None if stats.level_dbfs is None else round(stats.level_dbfs, 1),
        "events": {
            event: {
                "active": state.active is not None,
                "last": None if state.last is None else dataclasses.asdict(state.last),
                "last_detected": None
                if state.last_detected is None
                else state.last_detected.isoformat(),
            }
            for event, state in satellite.events.items()
        },
    }


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: AcousticGuardConfigEntry
) -> dict[str, Any]:
    """Everything useful to debug detection and connectivity, without audio or hosts."""
    data = entry.runtime_data
    return async_redact_data(
        {
            "options": dict(entry.options),
            "settings": {
                "enabled": list(data.settings.enabled),
                "sensitivity": dict(data.settings.sensitivity),
                "hold_s": data.settings.hold_s,
            },
            "model": data.model_info,
            "subentries": [
                {
                    "subentry_type": sub.subentry_type,
                    "title": sub.title,
                    "unique_id": sub.unique_id,
                    "data": dict(sub.data),
                }
                for sub in entry.subentries.values()
            ],
            "satellites": [_satellite(s) for s in data.satellites.values()],
            "guard": None if data.guard is None else data.guard.diagnostics(),
            # Clip counts and sizes per satellite (never audio, never file names).
            "clips": None if data.clips is None else await data.clips.async_stats(),
        },
        TO_REDACT,
    )

"""Every translation key the code uses exists, and en.json matches strings.json."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from custom_components.acoustic_guard.binary_sensor import CONNECTIVITY, EVENT_SENSORS
from custom_components.acoustic_guard.const import ALL_EVENTS, SUBENTRY_SATELLITE
from custom_components.acoustic_guard.engine.types import SENSITIVITIES
from custom_components.acoustic_guard.sensor import SENSORS

PACKAGE = Path(__file__).resolve().parents[2] / "custom_components" / "acoustic_guard"


def _load(name: str) -> dict[str, Any]:
    return dict(json.loads((PACKAGE / name).read_text(encoding="utf-8")))


def _shape(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {key: _shape(value) for key, value in tree.items()}
    return None


def test_english_translation_matches_strings() -> None:
    strings, english = _load("strings.json"), _load("translations/en.json")
    assert _shape(strings) == _shape(english)
    assert "[%key:" not in json.dumps(english)
    # Placeholders survive the translation.
    text = json.dumps(english)
    for placeholder in ("{name}", "{host}", "{port}", "{minutes}", "{reason}", "{error}"):
        assert placeholder in text


def test_used_keys_exist() -> None:
    strings = _load("strings.json")
    entity = strings["entity"]
    for description in (*EVENT_SENSORS, CONNECTIVITY):
        assert description.translation_key in entity["binary_sensor"]
    for description in SENSORS:
        assert description.translation_key in entity["sensor"]
    assert set(strings["selector"]["event"]["options"]) == set(ALL_EVENTS)
    assert set(strings["selector"]["sensitivity"]["options"]) == set(SENSITIVITIES)
    assert "model_load_failed" in strings["exceptions"]
    assert "satellite_down" in strings["issues"]
    for errors in (
        strings["config"]["error"],
        strings["config_subentries"][SUBENTRY_SATELLITE]["error"],
    ):
        assert {"cannot_connect", "no_audio"} <= set(errors)
    options = strings["options"]["step"]["init"]["data"]
    assert {f"sensitivity_{event}" for event in ALL_EVENTS} <= set(options)


def test_icons_cover_entities() -> None:
    icons, strings = _load("icons.json"), _load("strings.json")
    for platform, keys in icons["entity"].items():
        assert set(keys) <= set(strings["entity"][platform]), platform
        for icon in keys.values():
            assert re.fullmatch(r"mdi:[a-z0-9-]+", icon["default"])


def test_manifest() -> None:
    manifest = _load("manifest.json")
    assert list(manifest)[:2] == ["domain", "name"]
    assert list(manifest)[2:] == sorted(list(manifest)[2:])
    assert manifest["config_flow"] is True
    assert manifest["iot_class"] == "local_push"
    assert manifest["requirements"] == []  # nothing that would not install on HA OS (musl)
    hacs = json.loads((PACKAGE.parents[1] / "hacs.json").read_text())
    assert hacs["homeassistant"] == "2025.4.4"

"""Binary sensors: each event per satellite, the same events for the whole home, connectivity."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity
from homeassistant.util import dt as dt_util

from .const import (
    ALL_EVENTS,
    ATTR_CONFIDENCE,
    ATTR_LAST_DETECTED,
    ATTR_PATTERN,
    ATTR_SATELLITES,
    ATTR_VERIFIED,
    DOMAIN,
)
from .entity import HomeEntity, SatelliteEntity
from .hub import AcousticGuardConfigEntry, EventState, SatelliteRuntime

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class EventDescription(BinarySensorEntityDescription):
    """A binary sensor for one engine event."""

    event: str


# Device classes chosen for alarm panels such as Alarmo: smoke / carbon monoxide are
# "environmental" (armed or not); glass break is a sound that Alarmo files as "tamper"
# (immediate, in every armed mode, never while disarmed); footsteps are "motion" (away modes,
# entry delay). There is no glass-break device class in Home Assistant.
EVENT_SENSORS: tuple[EventDescription, ...] = (
    EventDescription(
        key="smoke_alarm",
        event="smoke_alarm",
        translation_key="smoke_alarm",
        device_class=BinarySensorDeviceClass.SMOKE,
    ),
    EventDescription(
        key="co_alarm",
        event="co_alarm",
        translation_key="co_alarm",
        device_class=BinarySensorDeviceClass.CO,
    ),
    EventDescription(
        key="glass_break",
        event="glass_break",
        translation_key="glass_break",
        device_class=BinarySensorDeviceClass.SOUND,
    ),
    EventDescription(
        key="footsteps",
        event="footsteps",
        translation_key="footsteps",
        device_class=BinarySensorDeviceClass.MOTION,
    ),
)
assert tuple(d.event for d in EVENT_SENSORS) == ALL_EVENTS

CONNECTIVITY = BinarySensorEntityDescription(
    key="connectivity",
    translation_key="connectivity",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: AcousticGuardConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors of every satellite and of the whole home."""
    data = entry.runtime_data
    enabled = set(data.settings.enabled)
    _remove_disabled(hass, entry, enabled)
    descriptions = [d for d in EVENT_SENSORS if d.event in enabled]
    for satellite in data.satellites.values():
        entities: list[BinarySensorEntity] = [
            SatelliteEventSensor(satellite, d) for d in descriptions
        ]
        entities.append(SatelliteConnectivity(satellite, CONNECTIVITY))
        async_add_entities(entities, config_subentry_id=satellite.subentry_id)
    async_add_entities(HomeEventSensor(entry, d) for d in descriptions)


def _remove_disabled(
    hass: HomeAssistant, entry: AcousticGuardConfigEntry, enabled: set[str]
) -> None:
    """Events switched off in the options lose their entities."""
    registry = er.async_get(hass)
    owners = [f"{entry.entry_id}_home", *entry.runtime_data.satellites]
    for event in set(ALL_EVENTS) - enabled:
        for owner in owners:
            entity_id = registry.async_get_entity_id(
                Platform.BINARY_SENSOR, DOMAIN, f"{owner}_{event}"
            )
            if entity_id:
                registry.async_remove(entity_id)


def _attributes(state: EventState | None, last_detected: datetime | None) -> dict[str, Any]:
    """Attributes of the last detection; none before the first one."""
    detection = state.last if state else None
    if detection is None:
        return {}
    attributes: dict[str, Any] = {ATTR_CONFIDENCE: round(detection.confidence, 3)}
    if detection.pattern:
        attributes[ATTR_PATTERN] = detection.pattern
    if last_detected is not None:
        attributes[ATTR_LAST_DETECTED] = last_detected.isoformat()
    if state is not None and state.verified is not None:
        attributes[ATTR_VERIFIED] = state.verified  # the remote verifier's verdict
    return attributes


def _restorable(attributes: Mapping[str, Any]) -> dict[str, Any]:
    keys = (ATTR_CONFIDENCE, ATTR_PATTERN, ATTR_LAST_DETECTED)
    return {key: attributes[key] for key in keys if attributes.get(key) is not None}


class SatelliteEventSensor(SatelliteEntity, BinarySensorEntity, RestoreEntity):
    """On while the satellite hears the event (plus its hold time)."""

    entity_description: EventDescription

    def __init__(self, satellite: SatelliteRuntime, description: EventDescription) -> None:
        """Bind to one event of one satellite."""
        super().__init__(satellite, description)
        self._restored: dict[str, Any] = {}

    @property
    def _state(self) -> EventState:
        return self.satellite.events[self.entity_description.event]

    @property
    def is_on(self) -> bool:
        """Whether the event is active now."""
        return self._state.active is not None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Confidence and pattern of the last detection, and when it began."""
        state = self._state
        if state.last is None:
            return dict(self._restored)
        return _attributes(state, state.last_detected)

    async def async_added_to_hass(self) -> None:
        """Restore the last detection's attributes (the state itself starts off)."""
        await super().async_added_to_hass()
        if (last := await self.async_get_last_state()) is not None:
            self._restored = _restorable(last.attributes)


class SatelliteConnectivity(SatelliteEntity, BinarySensorEntity):
    """Diagnostic: is audio flowing from the satellite (always available)."""

    @property
    def available(self) -> bool:
        """Always available: it reports the connection itself."""
        return True

    @property
    def is_on(self) -> bool:
        """Connected and receiving audio."""
        return self.satellite.available


class HomeEventSensor(HomeEntity, BinarySensorEntity, RestoreEntity):
    """On while any satellite hears the event: one automation covers the home."""

    entity_description: EventDescription

    def __init__(self, entry: AcousticGuardConfigEntry, description: EventDescription) -> None:
        """Bind to one event across satellites."""
        super().__init__(entry, description)
        self._restored: dict[str, Any] = {}

    def _states(self) -> list[tuple[SatelliteRuntime, EventState]]:
        event = self.entity_description.event
        return [
            (satellite, satellite.events[event])
            for satellite in self.entry.runtime_data.satellites.values()
            if event in satellite.events
        ]

    @property
    def available(self) -> bool:
        """Available while at least one satellite streams."""
        return any(s.available for s in self.entry.runtime_data.satellites.values())

    @property
    def is_on(self) -> bool:
        """Any satellite hears the event."""
        return any(state.active is not None for _, state in self._states())

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The satellites hearing it now and the most recent detection anywhere."""
        states = self._states()
        heard = [(s, st) for s, st in states if st.last is not None and st.last_detected]
        if not heard:
            attributes = dict(self._restored)
        else:
            _, latest = max(heard, key=lambda item: item[1].last_detected or dt_util.utcnow())
            attributes = _attributes(latest, latest.last_detected)
        attributes[ATTR_SATELLITES] = [s.name for s, st in states if st.active is not None]
        return attributes

    async def async_added_to_hass(self) -> None:
        """Restore the last detection's attributes."""
        await super().async_added_to_hass()
        if (last := await self.async_get_last_state()) is not None:
            self._restored = _restorable(last.attributes)

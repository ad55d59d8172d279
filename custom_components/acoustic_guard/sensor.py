"""Sensors per satellite: sound level (to choose a sensitivity) and diagnostics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import SatelliteEntity
from .hub import AcousticGuardConfigEntry, SatelliteRuntime
from .satellite import StreamStats

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class StatsSensorDescription(SensorEntityDescription):
    """A sensor reading one value of the stream's statistics."""

    value_fn: Callable[[StreamStats], float | int | None]


SENSORS: tuple[StatsSensorDescription, ...] = (
    StatsSensorDescription(
        key="sound_level",
        translation_key="sound_level",
        native_unit_of_measurement="dBFS",
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda stats: None if stats.level_dbfs is None else round(stats.level_dbfs, 1),
    ),
    StatsSensorDescription(
        key="dropped_audio",
        translation_key="dropped_audio",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        suggested_display_precision=1,
        value_fn=lambda stats: round(stats.dropped_s, 2),
    ),
    StatsSensorDescription(
        key="connects",
        translation_key="connects",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda stats: stats.connects,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: AcousticGuardConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add each satellite's sensors."""
    for satellite in entry.runtime_data.satellites.values():
        async_add_entities(
            (SatelliteStatsSensor(satellite, description) for description in SENSORS),
            config_subentry_id=satellite.subentry_id,
        )


class SatelliteStatsSensor(SatelliteEntity, SensorEntity):
    """One statistic of a satellite's stream, refreshed every few seconds."""

    entity_description: StatsSensorDescription
    _listen_level = True

    def __init__(self, satellite: SatelliteRuntime, description: StatsSensorDescription) -> None:
        """Bind to the satellite."""
        super().__init__(satellite, description)

    @property
    def native_value(self) -> float | int | None:
        """The current value."""
        return self.entity_description.value_fn(self.satellite.stream.stats)

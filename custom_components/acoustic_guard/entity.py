"""Entity base classes: a satellite's entities and the whole-home entities."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription

from .const import DEFAULT_TITLE, DOMAIN
from .hub import AcousticGuardConfigEntry, SatelliteRuntime


def hub_device_info(entry: AcousticGuardConfigEntry) -> DeviceInfo:
    """The hub device: whole-home entities live on it, satellites hang below it."""
    return DeviceInfo(
        identifiers={(DOMAIN, entry.entry_id)},
        name=DEFAULT_TITLE,
        manufacturer="Acoustic Guard",
        model="Whole home",
        entry_type=DeviceEntryType.SERVICE,
    )


class SatelliteEntity(Entity):
    """An entity of one satellite's device; unavailable while its audio is not flowing."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    _listen_level = False

    def __init__(self, satellite: SatelliteRuntime, description: EntityDescription) -> None:
        """Bind to the satellite runtime."""
        self.satellite = satellite
        self.entity_description = description
        self._attr_unique_id = f"{satellite.subentry_id}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, satellite.subentry_id)},
            name=satellite.name,
            manufacturer="Wyoming",
            model="Microphone satellite",
            via_device=(DOMAIN, satellite.entry.entry_id),
        )

    @property
    def available(self) -> bool:
        """Available while audio flows."""
        return self.satellite.available

    async def async_added_to_hass(self) -> None:
        """Follow the satellite's updates."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self.satellite.async_add_listener(self.async_write_ha_state, level=self._listen_level)
        )


class HomeEntity(Entity):
    """An entity of the hub device (the whole home)."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, entry: AcousticGuardConfigEntry, description: EntityDescription) -> None:
        """Bind to the hub entry."""
        self.entry = entry
        self.entity_description = description
        self._attr_unique_id = f"{entry.entry_id}_home_{description.key}"
        self._attr_device_info = hub_device_info(entry)

    async def async_added_to_hass(self) -> None:
        """Follow every satellite's updates."""
        await super().async_added_to_hass()
        for satellite in self.entry.runtime_data.satellites.values():
            self.async_on_remove(satellite.async_add_listener(self.async_write_ha_state))

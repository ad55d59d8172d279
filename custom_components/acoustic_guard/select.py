"""The guard-mode select (home / away) for homes without a linked alarm panel.

Away arms the guard: intrusion sounds (by default glass break and footsteps) are reported.
The choice is restored after a restart. With an alarm panel linked in the options, the panel
decides and this entity is removed.
"""

from __future__ import annotations

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .const import DOMAIN, GUARD_MODE_AWAY, GUARD_MODE_HOME
from .entity import HomeEntity
from .guard import Guard
from .hub import AcousticGuardConfigEntry

PARALLEL_UPDATES = 0

GUARD_MODE = SelectEntityDescription(
    key="guard_mode",
    translation_key="guard_mode",
    options=[GUARD_MODE_HOME, GUARD_MODE_AWAY],
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: AcousticGuardConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the guard-mode select unless an alarm panel decides."""
    guard = entry.runtime_data.guard
    if guard is None:
        return
    if guard.has_panel:
        registry = er.async_get(hass)
        unique_id = f"{entry.entry_id}_home_{GUARD_MODE.key}"
        if entity_id := registry.async_get_entity_id(Platform.SELECT, DOMAIN, unique_id):
            registry.async_remove(entity_id)
        return
    async_add_entities([GuardModeSelect(entry, guard)])


class GuardModeSelect(HomeEntity, SelectEntity, RestoreEntity):
    """Home or away: away arms the guard."""

    entity_description: SelectEntityDescription

    def __init__(self, entry: AcousticGuardConfigEntry, guard: Guard) -> None:
        """Bind to the guard."""
        super().__init__(entry, GUARD_MODE)
        self._guard = guard

    @property
    def current_option(self) -> str:
        """The guard's mode."""
        return self._guard.mode

    async def async_select_option(self, option: str) -> None:
        """Arm (away) or disarm (home) at once."""
        self._guard.async_set_mode(option)
        self.async_write_ha_state()

    async def async_added_to_hass(self) -> None:
        """Restore the mode of before the restart."""
        await super().async_added_to_hass()
        last = await self.async_get_last_state()
        if last is not None and last.state in (GUARD_MODE_HOME, GUARD_MODE_AWAY):
            self._guard.async_set_mode(last.state)
        self.async_on_remove(self._guard.async_add_listener(self.async_write_ha_state))

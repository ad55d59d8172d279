"""Config flow: the hub entry (with its first satellite), satellite subentries, options."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import voluptuous as vol
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PORT
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import section
from homeassistant.helpers import selector

from . import hub
from .const import (
    ALL_EVENTS,
    ARMING_STATES,
    CONF_ALARM_PANEL,
    CONF_ARMING_STATES,
    CONF_CLIP_MAX_AGE_DAYS,
    CONF_CLIP_MAX_SIZE_MB,
    CONF_ENABLED_EVENTS,
    CONF_HOLD_TIME,
    CONF_INTRUSION_FAIL_OPEN,
    CONF_TRIGGER_PANEL,
    CONF_VERIFIER_CA_FILE,
    CONF_VERIFIER_TIMEOUT,
    CONF_VERIFIER_TOKEN,
    CONF_VERIFIER_URL,
    DEFAULT_ARMING_STATES,
    DEFAULT_CLIP_MAX_AGE_DAYS,
    DEFAULT_CLIP_MAX_SIZE_MB,
    DEFAULT_PORT,
    DEFAULT_SENSITIVITY,
    DEFAULT_TITLE,
    DEFAULT_VERIFIER_TIMEOUT,
    DOMAIN,
    LIFE_SAFETY_EVENTS,
    MAX_HOLD_TIME,
    MIN_HOLD_TIME,
    REPORT_ALWAYS,
    REPORT_ARMED,
    REPORT_MODES,
    SUBENTRY_SATELLITE,
    VERIFY_MODES,
    VERIFY_OFF,
    report_key,
    sensitivity_key,
    verify_key,
)
from .engine.types import SENSITIVITIES
from .satellite import ProbeError, probe
from .verification import VerifierError, endpoint_url

_LOGGER = logging.getLogger(__name__)


def box_number(low: float, high: float, unit: str | None = None) -> selector.NumberSelector:
    """A whole-number input box from ``low`` to ``high`` (optionally with a unit)."""
    config = selector.NumberSelectorConfig(
        min=low, max=high, step=1, mode=selector.NumberSelectorMode.BOX
    )
    if unit is not None:
        config["unit_of_measurement"] = unit
    return selector.NumberSelector(config)


def _satellite_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_NAME, default=defaults.get(CONF_NAME, "")): selector.TextSelector(),
            vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, "")): selector.TextSelector(),
            vol.Required(CONF_PORT, default=defaults.get(CONF_PORT, DEFAULT_PORT)): box_number(
                1, 65535
            ),
        }
    )


def _clean(user_input: Mapping[str, Any]) -> dict[str, Any]:
    return {
        CONF_NAME: str(user_input[CONF_NAME]).strip() or str(user_input[CONF_HOST]).strip(),
        CONF_HOST: str(user_input[CONF_HOST]).strip(),
        CONF_PORT: int(user_input[CONF_PORT]),
    }


def _unique_id(data: Mapping[str, Any]) -> str:
    return f"{data[CONF_HOST]}:{data[CONF_PORT]}"


async def _probe_errors(data: Mapping[str, Any]) -> dict[str, str]:
    """Connect and wait for audio; {} when the satellite streams, else the form error."""
    timing = hub.TIMING
    try:
        fmt = await probe(
            data[CONF_HOST],
            data[CONF_PORT],
            connect_timeout=timing.probe_connect,
            audio_timeout=timing.probe_audio,
        )
    except ProbeError as err:
        _LOGGER.debug("Satellite %s: %s", _unique_id(data), err)
        return {"base": err.reason}
    _LOGGER.debug("Satellite %s streams %s", _unique_id(data), fmt)
    return {}


class AcousticGuardConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up the hub together with its first microphone satellite."""

    VERSION = 1

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """Home-wide detection options."""
        return AcousticGuardOptionsFlow()

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Satellites are subentries."""
        return {SUBENTRY_SATELLITE: SatelliteSubentryFlow}

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the first satellite, check that it streams audio, create the hub."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _clean(user_input)
            errors = await _probe_errors(data)
            if not errors:
                return self.async_create_entry(
                    title=DEFAULT_TITLE,
                    data={},
                    subentries=[
                        {
                            "subentry_type": SUBENTRY_SATELLITE,
                            "data": data,
                            "title": data[CONF_NAME],
                            "unique_id": _unique_id(data),
                        }
                    ],
                )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(
                _satellite_schema({}), user_input or {}
            ),
            errors=errors,
        )


class SatelliteSubentryFlow(ConfigSubentryFlow):
    """Add a satellite, or change its name / host / port."""

    def _taken(self, unique_id: str, *, ignore: str | None = None) -> bool:
        return any(
            sub.unique_id == unique_id and sub.subentry_id != ignore
            for sub in self._get_entry().subentries.values()
        )

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Add a satellite after checking that it streams audio."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _clean(user_input)
            if self._taken(_unique_id(data)):
                return self.async_abort(reason="already_configured")
            errors = await _probe_errors(data)
            if not errors:
                return self.async_create_entry(
                    title=data[CONF_NAME], data=data, unique_id=_unique_id(data)
                )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(
                _satellite_schema({}), user_input or {}
            ),
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a satellite's name, host or port (checked like a new one)."""
        entry = self._get_entry()
        subentry = self._get_reconfigure_subentry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _clean(user_input)
            if self._taken(_unique_id(data), ignore=subentry.subentry_id):
                return self.async_abort(reason="already_configured")
            errors = await _probe_errors(data)
            if not errors:
                return self.async_update_and_abort(
                    entry,
                    subentry,
                    title=data[CONF_NAME],
                    data=data,
                    unique_id=_unique_id(data),
                )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=_satellite_schema(user_input or {**subentry.data}),
            errors=errors,
        )


class AcousticGuardOptionsFlow(OptionsFlow):
    """Detection options, and in two sections the guard (arming) and the remote verifier."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """One form with every home-wide option."""
        errors: dict[str, str] = {}
        options: Mapping[str, Any] = self.config_entry.options
        if user_input is not None:
            new_options = _flatten_options(options, user_input)
            errors = await _guard_errors(self.hass, new_options)
            if not errors:
                return self.async_create_entry(data=new_options)
            options = new_options
        schema: dict[vol.Marker, Any] = {
            vol.Required(
                CONF_ENABLED_EVENTS, default=list(options.get(CONF_ENABLED_EVENTS, ALL_EVENTS))
            ): selector.SelectSelector(
                selector.SelectSelectorConfig(
                    options=list(ALL_EVENTS),
                    multiple=True,
                    mode=selector.SelectSelectorMode.LIST,
                    translation_key="event",
                )
            ),
        }
        for event in ALL_EVENTS:
            key = sensitivity_key(event)
            schema[vol.Required(key, default=options.get(key, DEFAULT_SENSITIVITY))] = (
                selector.SelectSelector(
                    selector.SelectSelectorConfig(
                        options=list(SENSITIVITIES),
                        mode=selector.SelectSelectorMode.DROPDOWN,
                        translation_key="sensitivity",
                    )
                )
            )
        schema[
            vol.Optional(
                CONF_HOLD_TIME, description={"suggested_value": options.get(CONF_HOLD_TIME)}
            )
        ] = box_number(MIN_HOLD_TIME, MAX_HOLD_TIME, "s")
        # Detection clips: retention (issue 5 part 3).
        schema[
            vol.Required(
                CONF_CLIP_MAX_AGE_DAYS,
                default=options.get(CONF_CLIP_MAX_AGE_DAYS, DEFAULT_CLIP_MAX_AGE_DAYS),
            )
        ] = box_number(1, 3650, "d")
        schema[
            vol.Required(
                CONF_CLIP_MAX_SIZE_MB,
                default=options.get(CONF_CLIP_MAX_SIZE_MB, DEFAULT_CLIP_MAX_SIZE_MB),
            )
        ] = box_number(1, 100000, "MB")
        schema[vol.Optional(SECTION_GUARD, default={})] = section(
            _guard_schema(options), {"collapsed": True}
        )
        schema[vol.Optional(SECTION_VERIFIER, default={})] = section(
            _verifier_schema(options), {"collapsed": True}
        )
        return self.async_show_form(step_id="init", data_schema=vol.Schema(schema), errors=errors)


# -- guard options (issue 5) ------------------------------------------------------------------
SECTION_GUARD = "guard"
SECTION_VERIFIER = "verifier"
# Optional keys: leaving them empty removes them from the options.
_CLEARABLE = (CONF_ALARM_PANEL, CONF_VERIFIER_URL, CONF_VERIFIER_TOKEN, CONF_VERIFIER_CA_FILE)


def _suggested(options: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {"suggested_value": options.get(key)}


def _select(options: list[str], translation_key: str, *, multiple: bool = False) -> Any:
    return selector.SelectSelector(
        selector.SelectSelectorConfig(
            options=options,
            multiple=multiple,
            mode=selector.SelectSelectorMode.DROPDOWN,
            translation_key=translation_key,
        )
    )


def _guard_schema(options: Mapping[str, Any]) -> vol.Schema:
    """Alarm panel, arming states, per event report always / only when armed."""
    schema: dict[vol.Marker, Any] = {
        vol.Optional(CONF_ALARM_PANEL, description=_suggested(options, CONF_ALARM_PANEL)): (
            selector.EntitySelector(selector.EntitySelectorConfig(domain="alarm_control_panel"))
        ),
        vol.Required(
            CONF_ARMING_STATES,
            default=list(options.get(CONF_ARMING_STATES, DEFAULT_ARMING_STATES)),
        ): _select(list(ARMING_STATES), "arming_state", multiple=True),
    }
    for event in ALL_EVENTS:
        default = REPORT_ALWAYS if event in LIFE_SAFETY_EVENTS else REPORT_ARMED
        key = report_key(event)
        schema[vol.Required(key, default=options.get(key, default))] = _select(
            list(REPORT_MODES), "report"
        )
    schema[vol.Required(CONF_TRIGGER_PANEL, default=options.get(CONF_TRIGGER_PANEL, False))] = (
        selector.BooleanSelector()
    )
    return vol.Schema(schema)


def _verifier_schema(options: Mapping[str, Any]) -> vol.Schema:
    """URL, token, timeout, CA file, per event mode, intrusion fail-open."""
    schema: dict[vol.Marker, Any] = {
        vol.Optional(CONF_VERIFIER_URL, description=_suggested(options, CONF_VERIFIER_URL)): (
            selector.TextSelector(selector.TextSelectorConfig(type=selector.TextSelectorType.URL))
        ),
        vol.Optional(
            CONF_VERIFIER_TOKEN, description=_suggested(options, CONF_VERIFIER_TOKEN)
        ): selector.TextSelector(
            selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
        ),
        vol.Required(
            CONF_VERIFIER_TIMEOUT,
            default=options.get(CONF_VERIFIER_TIMEOUT, DEFAULT_VERIFIER_TIMEOUT),
        ): box_number(1, 60, "s"),
        vol.Optional(
            CONF_VERIFIER_CA_FILE, description=_suggested(options, CONF_VERIFIER_CA_FILE)
        ): selector.TextSelector(),
    }
    for event in ALL_EVENTS:
        key = verify_key(event)
        schema[vol.Required(key, default=options.get(key, VERIFY_OFF))] = _select(
            list(VERIFY_MODES), "verify_mode"
        )
    schema[
        vol.Required(CONF_INTRUSION_FAIL_OPEN, default=options.get(CONF_INTRUSION_FAIL_OPEN, True))
    ] = selector.BooleanSelector()
    return vol.Schema(schema)


def _flatten_options(options: Mapping[str, Any], user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Stored options are flat: the sections' fields sit next to the detection options."""
    new_options = {**options}
    flat = {k: v for k, v in user_input.items() if k not in (SECTION_GUARD, SECTION_VERIFIER)}
    new_options.update(flat)
    if flat.get(CONF_HOLD_TIME) is None:
        new_options.pop(CONF_HOLD_TIME, None)  # back to the model's hold times
    else:
        new_options[CONF_HOLD_TIME] = float(flat[CONF_HOLD_TIME])
    for name in (SECTION_GUARD, SECTION_VERIFIER):
        if name not in user_input:
            continue
        values = dict(user_input[name])
        for key in _CLEARABLE:
            if key in _section_keys(name):
                text = str(values.get(key) or "").strip()
                if text:
                    values[key] = text
                else:
                    values.pop(key, None)
                    new_options.pop(key, None)
        if CONF_VERIFIER_TIMEOUT in values:
            values[CONF_VERIFIER_TIMEOUT] = float(values[CONF_VERIFIER_TIMEOUT])
        new_options.update(values)
    return new_options


def _section_keys(name: str) -> tuple[str, ...]:
    if name == SECTION_GUARD:
        return (CONF_ALARM_PANEL,)
    return (CONF_VERIFIER_URL, CONF_VERIFIER_TOKEN, CONF_VERIFIER_CA_FILE)


async def _guard_errors(hass: HomeAssistant, options: Mapping[str, Any]) -> dict[str, str]:
    """Check the verifier settings: a mode other than off needs a valid URL and a token."""
    url = options.get(CONF_VERIFIER_URL)
    if url:
        try:
            endpoint_url(url)
        except VerifierError:
            return {"base": "invalid_verifier_url"}
    if any(options.get(verify_key(event), VERIFY_OFF) != VERIFY_OFF for event in ALL_EVENTS):
        if not url:
            return {"base": "verifier_url_required"}
        if not options.get(CONF_VERIFIER_TOKEN):
            return {"base": "verifier_token_required"}
    ca_file = options.get(CONF_VERIFIER_CA_FILE)
    if ca_file and not await hass.async_add_executor_job(os.path.isfile, ca_file):
        return {"base": "ca_file_not_found"}
    return {}

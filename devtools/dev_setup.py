"""Prepare and finish the development Home Assistant that ``scripts/develop`` runs.

Two sub-commands, both idempotent:

``prepare CONFIG_DIR``
    before Home Assistant starts: mark onboarding done so the UI opens on the dashboard
    (the ``dev`` user itself is created with ``hass --script auth``).

``configure URL``
    after it started: log in as ``dev`` through the real login flow, and when no Acoustic
    Guard entry exists, run the integration's own config flow (REST API) against the demo
    satellite; when one exists, make sure the demo satellite is among its satellites.
    The tokens are saved (``--tokens FILE``) so a headless browser can open the UI logged in.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

DOMAIN = "acoustic_guard"
SUBENTRY_SATELLITE = "satellite"
_ONBOARDING_STEPS = ["user", "core_config", "analytics", "integration"]


class SetupError(Exception):
    """Something the developer has to look at; the message says what."""


def prepare(config_dir: Path) -> None:
    """Mark onboarding done (unless Home Assistant already stored its own progress)."""
    storage = config_dir / ".storage"
    storage.mkdir(parents=True, exist_ok=True)
    onboarding = storage / "onboarding"
    if onboarding.exists():
        return
    onboarding.write_text(
        json.dumps(
            {
                "version": 4,
                "minor_version": 1,
                "key": "onboarding",
                "data": {"done": _ONBOARDING_STEPS},
            },
            indent=2,
        )
    )


class HomeAssistantApi:
    """The few REST calls the setup needs, with a bearer token once logged in."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url.rstrip("/")
        self.client_id = f"{self.url}/"
        self.token: str | None = None

    async def wait_up(self, within_s: float) -> None:
        """Wait until the HTTP server answers (the login providers need no token)."""
        deadline = time.monotonic() + within_s
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                async with self.session.get(f"{self.url}/auth/providers") as resp:
                    if resp.status == 200:
                        return
                    last = f"HTTP {resp.status}"
            except aiohttp.ClientError as err:
                last = str(err) or type(err).__name__
            await asyncio.sleep(1.0)
        raise SetupError(
            f"Home Assistant did not answer at {self.url} within {within_s:.0f} s ({last})"
        )

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.session.request(
            method, f"{self.url}{path}", headers=headers, **kwargs
        ) as resp:
            text = await resp.text()
            if resp.status >= 400:
                raise SetupError(f"{method} {path}: HTTP {resp.status}: {text[:300]}")
            return json.loads(text) if text else None

    async def login(self, username: str, password: str) -> dict[str, Any]:
        """Log in through the login flow; returns the token response."""
        flow = await self._json(
            "POST",
            "/auth/login_flow",
            json={
                "client_id": self.client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": f"{self.url}/?auth_callback=1",
            },
        )
        result = await self._json(
            "POST",
            f"/auth/login_flow/{flow['flow_id']}",
            json={"username": username, "password": password, "client_id": self.client_id},
        )
        if result.get("type") != "create_entry":
            raise SetupError(f"login as {username!r} failed: {result.get('errors') or result}")
        tokens: dict[str, Any] = await self._json(
            "POST",
            "/auth/token",
            data={
                "grant_type": "authorization_code",
                "code": result["result"],
                "client_id": self.client_id,
            },
        )
        self.token = tokens["access_token"]
        return tokens

    async def entries(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._json(
            "GET", f"/api/config/config_entries/entry?domain={DOMAIN}"
        )
        return result

    async def run_flow(self, base: str, start: dict[str, Any], answer: dict[str, Any]) -> Any:
        """Start a flow at ``base``; answer its first form with ``answer``; return the result."""
        result = await self._json("POST", base, json=start)
        if result.get("type") == "form":
            result = await self._json("POST", f"{base}/{result['flow_id']}", json=answer)
        return result


async def configure(args: argparse.Namespace) -> None:
    """Log in, then make sure Acoustic Guard is set up with the demo satellite."""
    satellite = {"name": args.satellite_name, "host": args.satellite_host, "port": args.port}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        api = HomeAssistantApi(session, args.url)
        await api.wait_up(args.timeout)
        tokens = await api.login(args.username, args.password)
        if args.tokens is not None:
            tokens = {**tokens, "hassUrl": api.url, "clientId": api.client_id}
            tokens["expires"] = int(time.time() * 1000) + int(tokens["expires_in"]) * 1000
            args.tokens.write_text(json.dumps(tokens))
            args.tokens.chmod(0o600)
        entries = await api.entries()
        if not entries:
            result = await api.run_flow(
                "/api/config/config_entries/flow", {"handler": DOMAIN}, satellite
            )
            if result.get("type") != "create_entry":
                raise SetupError(f"the Acoustic Guard config flow did not finish: {result}")
            print(f"dev_setup: added Acoustic Guard with satellite {satellite['name']!r}")
            return
        entry_id = entries[0]["entry_id"]
        result = await api.run_flow(
            "/api/config/config_entries/subentries/flow",
            {"handler": [entry_id, SUBENTRY_SATELLITE]},
            satellite,
        )
        kind, reason = result.get("type"), result.get("reason")
        if kind == "create_entry":
            print(f"dev_setup: added satellite {satellite['name']!r}")
        elif kind == "abort" and reason == "already_configured":
            print("dev_setup: Acoustic Guard is already configured with the demo satellite")
        else:
            raise SetupError(f"adding the demo satellite failed: {result}")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devtools.dev_setup")
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="mark onboarding done in CONFIG_DIR")
    prep.add_argument("config_dir", type=Path)
    conf = sub.add_parser("configure", help="log in and configure Acoustic Guard")
    conf.add_argument("url", help="Home Assistant URL, e.g. http://127.0.0.1:8123")
    conf.add_argument("--username", default="dev")
    conf.add_argument("--password", default="dev")
    conf.add_argument("--satellite-name", default="Demo living room")
    conf.add_argument("--satellite-host", default="127.0.0.1")
    conf.add_argument("--port", type=int, default=10700, help="the demo satellite's port")
    conf.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for HA")
    conf.add_argument("--tokens", type=Path, help="write the login tokens (JSON) here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    args = _parse_args(argv)
    try:
        if args.command == "prepare":
            prepare(args.config_dir)
        else:
            asyncio.run(configure(args))
    except (SetupError, OSError, aiohttp.ClientError, TimeoutError) as err:
        print(f"dev_setup: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

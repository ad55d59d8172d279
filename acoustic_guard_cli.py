"""``acoustic-guard`` launcher: the engine without loading Home Assistant.

``custom_components/acoustic_guard/__init__.py`` is the Home Assistant integration and imports
Home Assistant (seconds, ~55 MB). The engine below it never needs it, so tools outside Home
Assistant (this command line, the reference verifier, the benchmarks) first register a bare
parent package and then import the engine under its usual name.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

PACKAGE = "custom_components.acoustic_guard"


def bare_integration_package() -> None:
    """Make ``custom_components.acoustic_guard.engine`` importable without Home Assistant.

    A no-op where the integration package is already imported (inside Home Assistant).
    """
    if PACKAGE in sys.modules:
        return
    import custom_components  # noqa: PLC0415 - the namespace package, empty

    parent = types.ModuleType(PACKAGE)
    parent.__path__ = [str(Path(next(iter(custom_components.__path__))) / "acoustic_guard")]
    sys.modules[PACKAGE] = parent


def main() -> int:
    bare_integration_package()
    from custom_components.acoustic_guard.engine.cli import main as cli_main  # noqa: PLC0415

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())

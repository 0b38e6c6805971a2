"""Run the release gate: `python -m services.gate`."""

from __future__ import annotations

import asyncio

from services.common.logs import configure_logging
from services.common.metrics import app_registry
from services.common.settings import load_settings
from services.gate.app import build_app
from services.gate.settings import GateSettings


def main() -> None:
    """Start the gate and run until interrupted."""
    settings = load_settings(GateSettings)
    configure_logging("gate", settings.log_level)
    app, _ = build_app(settings, app_registry())
    asyncio.run(app.run())


if __name__ == "__main__":
    main()

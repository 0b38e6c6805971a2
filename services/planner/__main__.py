"""Run the planner: `python -m services.planner`."""

from __future__ import annotations

import asyncio

from services.common.logs import configure_logging
from services.common.metrics import app_registry
from services.common.settings import load_settings
from services.planner.app import build_app
from services.planner.settings import PlannerSettings


def main() -> None:
    """Consume parsed orders and propose plans until interrupted."""
    settings = load_settings(PlannerSettings)
    configure_logging("planner", settings.log_level)
    app, _ = build_app(settings, app_registry())
    asyncio.run(app.run())


if __name__ == "__main__":
    main()

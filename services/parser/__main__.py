"""Run the parser: `python -m services.parser`."""

from __future__ import annotations

import asyncio
import logging

from services.common.logs import configure_logging
from services.common.metrics import app_registry
from services.common.settings import load_settings
from services.parser.app import build_app
from services.parser.backends import build_backend, build_judge
from services.parser.settings import ParserSettings


def main() -> None:
    """Load the model, then consume orders until interrupted."""
    settings = load_settings(ParserSettings)
    configure_logging("parser", settings.log_level)
    backend = build_backend(settings)
    judge = build_judge(settings, backend)
    logging.getLogger("qm.parser").info(
        "parser ready with backend %s, red-line judge %s",
        backend.name if backend else "rules",
        judge.name if judge else "off",
    )
    app, _ = build_app(settings, backend, app_registry(), judge=judge)
    asyncio.run(app.run())


if __name__ == "__main__":
    main()

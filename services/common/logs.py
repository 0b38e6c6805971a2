"""One log format for every service."""

from __future__ import annotations

import logging


def configure_logging(service: str, level: str = "INFO") -> None:
    """Log lines with time, service and level (the settings' QM_LOG_LEVEL)."""
    logging.basicConfig(
        level=level,
        format=f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)

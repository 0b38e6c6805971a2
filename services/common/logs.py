"""One log format for every service."""

from __future__ import annotations

import logging
import os


def configure_logging(service: str) -> None:
    """Log lines with time, service and level; level from QM_LOG_LEVEL."""
    logging.basicConfig(
        level=os.environ.get("QM_LOG_LEVEL", "INFO").upper(),
        format=f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)

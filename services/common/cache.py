"""Where downloads and builds are kept between runs (never in git)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Return the Quartermaster cache directory ($QM_CACHE_DIR or ~/.cache/quartermaster)."""
    override = os.environ.get("QM_CACHE_DIR")
    return Path(override).expanduser() if override else Path.home() / ".cache" / "quartermaster"

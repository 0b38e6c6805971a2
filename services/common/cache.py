"""Where downloads and builds are kept between runs (never in git)."""

from __future__ import annotations

from pathlib import Path

from services.common.settings import CommonSettings


def cache_dir() -> Path:
    """The Quartermaster cache directory: QM_CACHE_DIR, or ~/.cache/quartermaster."""
    return CommonSettings().cache_dir

"""Where tests find the shared evaluation data (outside this repository)."""

from __future__ import annotations

import os
from pathlib import Path

from services.common.settings import SHARED_DIR

EVAL_DIR = Path(os.environ.get("QM_EVAL_DIR", str(SHARED_DIR / "eval")))
BENCH_DIR = Path(os.environ.get("QM_BENCH_DIR", str(SHARED_DIR / "bench")))
OWN_EVAL_DIR = Path(__file__).resolve().parent / "eval"

"""Where tests find the shared evaluation data (outside this repository)."""

from __future__ import annotations

import os
from pathlib import Path

EVAL_DIR = Path(os.environ.get("QM_EVAL_DIR", "/work/shared/eval"))
BENCH_DIR = Path(os.environ.get("QM_BENCH_DIR", "/work/shared/bench"))

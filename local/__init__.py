"""Runs template.yaml as an in-process stack on moto: tables, bucket, secret, functions, workflow, API."""

from __future__ import annotations

import sys
from pathlib import Path

# The shared layer is importable in Lambda (/opt/python); scripts get the same through sys.path.
_SHARED_LAYER = str(Path(__file__).resolve().parents[1] / "layers" / "shared")
if _SHARED_LAYER not in sys.path:
    sys.path.insert(0, _SHARED_LAYER)

"""Identifiers: UUIDv7 for jobs (time-ordered, so a store's jobs sort newest first by key)."""

from __future__ import annotations

import os
import time
import uuid


def uuid7() -> str:
    """RFC 9562 UUIDv7: 48-bit Unix milliseconds, then random bits."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)  # rand_b
    return str(uuid.UUID(int=value))


def uuid4() -> str:
    return str(uuid.uuid4())


def uuid7_millis(value: str) -> int:
    """The creation time (Unix milliseconds) a UUIDv7 carries in its first 48 bits."""
    return int(value.replace("-", "")[:12], 16)


def uuid7_floor(millis: int) -> str:
    """The smallest UUIDv7 text created at ``millis``: ids of that time or later sort at or after it."""
    stamp = f"{millis & ((1 << 48) - 1):012x}"
    return f"{stamp[:8]}-{stamp[8:]}-7000-8000-000000000000"

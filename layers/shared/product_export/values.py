"""Scalar values as text: one rendering shared by the CSV writer and the filter evaluator.

A filter such as ``eq(extensions.shoes.size,42)`` must match exactly the rows whose CSV cell reads
``42``, so both sides render stored values through :func:`cell_text`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal
from typing import Any

# Room for every number DynamoDB stores (38 significant digits, magnitudes 1E-130 to 9.99E+125)
# written out in full.
_EXACT = Context(prec=300)


def cell_text(value: Any) -> str:
    """Render a stored scalar as its CSV cell text ('' for a missing value)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        # DynamoDB hands numbers back as Decimal: print 42 rather than 42.0 or 4.2E+1. Exactly:
        # the default context's 28 digits would round (or, for 1E+30, refuse) stored numbers.
        if value == value.to_integral_value():
            return str(value.quantize(Decimal(1), context=_EXACT))
        return format(value.normalize(_EXACT), "f")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format(Decimal(repr(value)).normalize(), "f") if value != int(value) else str(int(value))
    return str(value)


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 UTC with milliseconds, e.g. ``2024-01-05T13:46:42.070Z``."""
    m = moment.astimezone(UTC)
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
        f".{m.microsecond // 1000:03d}Z"
    )


def now_timestamp() -> str:
    return format_timestamp(datetime.now(UTC))


_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|z|[+-]\d{2}:\d{2})?)?$"
)


def parse_timestamp(text: str) -> str:
    """Normalise an RFC 3339 timestamp (or a bare date) to the stored canonical form.

    Raises ValueError for anything else. Stored timestamps share one fixed-width UTC form, so
    comparing the canonical strings compares the instants.
    """
    match = _TIMESTAMP.match(text.strip())
    if not match:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int(((fraction or ".0")[1:] + "000000")[:6])
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            micro,
            tzinfo=UTC,
        )
        if zone and zone not in ("Z", "z"):
            sign = 1 if zone[0] == "+" else -1
            moment -= timedelta(minutes=sign * (int(zone[1:3]) * 60 + int(zone[4:6])))
    except OverflowError as error:
        raise ValueError(f"timestamp out of range: {text!r}") from error
    return format_timestamp(moment)

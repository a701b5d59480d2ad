"""Time zones by name, for pages and emails that must never fail on a bad or empty name."""

from __future__ import annotations

import zoneinfo


def zone_or_utc(name: str) -> zoneinfo.ZoneInfo:
    """The zone called `name`; UTC when the name is empty or unknown."""
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")

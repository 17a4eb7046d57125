"""The time kb's lifetimes are measured against (sessions), so that tests can move it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import current_app, has_app_context

from kb.models import utcnow


def now() -> datetime:
    """The current time in UTC, naive as stored; ``app.config["CLOCK"]`` may replace it."""
    if has_app_context():
        clock: Callable[[], datetime] | None = current_app.config.get("CLOCK")
        if callable(clock):
            return clock()
    return utcnow()

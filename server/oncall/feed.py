"""A schedule's iCalendar feed and the token that opens it.

The token is 256 random bits, shown once when issued; only its SHA-256 digest is
kept (a fast digest suffices for so many random bits), so it is found by digest
and a new token replaces the old one at once.
"""

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from icalendar import Calendar, Event

from server.oncall.rotation import Shift

TOKEN_PREFIX = "ogcal_"
#: The feed covers this much of the past and of the future, from now.
FEED_PAST = timedelta(days=30)
FEED_FUTURE = timedelta(days=90)
PRODUCT_ID = "-//opsgraph//on-call//EN"


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feed_path(schedule: str, token: str) -> str:
    """Where the feed is served, relative to the server's base URL."""
    return f"/oncall/{schedule}.ics?token={token}"


def event_uid(shift: Shift, *, workspace_id: int) -> str:
    """Stable as long as the shift's origin is (see ``Shift.key``)."""
    return f"{shift.key.replace(':', '-')}.{workspace_id}.{shift.schedule}@oncall.opsgraph"


def render(schedule: str, shifts: Sequence[Shift], *, workspace_id: int, now: datetime) -> bytes:
    """The schedule as an iCalendar document: one event per shift, times in UTC."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"On call: {schedule}")
    for shift in shifts:
        event = Event()
        event.add("uid", event_uid(shift, workspace_id=workspace_id))
        event.add("dtstamp", now)
        event.add("dtstart", shift.starts_at)
        event.add("dtend", shift.ends_at)
        event.add("summary", f"On call: {shift.person}")
        event.add("description", f"{shift.person} ({shift.contact}), {shift.source.lower()}")
        event.add("categories", [shift.source.value])
        calendar.add_component(event)
    document: bytes = calendar.to_ical()
    return document

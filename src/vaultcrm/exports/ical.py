"""iCalendar (RFC 5545) text, written by hand: escaping, 75-octet line folding and VTIMEZONE.

Calendar apps are strict about three things the format asks for and a naive writer gets wrong: TEXT
values escape `\\ ; ,` and newlines; a content line longer than 75 octets is folded (CRLF + space)
without cutting a UTF-8 character in two — Chinese text makes that matter at once; and every TZID
used must come with a VTIMEZONE saying what its offsets are, derived here from the zoneinfo database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

CRLF = "\r\n"
LINE_OCTETS = 75
PRODID = "-//vaultcrm//vaultcrm//ZH"


def escape_text(value: str) -> str:
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def fold(line: str) -> str:
    """Split a content line into pieces of at most 75 octets; continuation lines start with a space."""
    if len(line) <= LINE_OCTETS and (line.isascii() or len(line.encode("utf-8")) <= LINE_OCTETS):
        return line  # most lines: an ASCII one is as many octets as characters
    pieces, current, size = [], [], 0
    limit = LINE_OCTETS
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > limit:
            pieces.append("".join(current))
            current, size, limit = [], 0, LINE_OCTETS - 1  # the leading space counts
        current.append(ch)
        size += n
    pieces.append("".join(current))
    return (CRLF + " ").join(pieces)


def local_stamp(value: dt.datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%S")


def utc_stamp(value: dt.datetime, tz: ZoneInfo) -> str:
    """A store-local naive time as UTC (`...Z`), as DTSTAMP must be."""
    return value.replace(tzinfo=tz).astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _offset(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    sign = "+" if seconds >= 0 else "-"
    seconds = abs(seconds)
    text = f"{sign}{seconds // 3600:02d}{seconds % 3600 // 60:02d}"
    return text + (f"{seconds % 60:02d}" if seconds % 60 else "")


def _transitions(tz: ZoneInfo, first: dt.datetime, last: dt.datetime) -> list[dt.datetime]:
    """UTC instants in [first, last) where the zone's offset changes (found by day, then to the minute)."""
    found = []
    step = dt.timedelta(days=1)
    t = first
    while t < last:
        nxt = t + step
        if t.astimezone(tz).utcoffset() != nxt.astimezone(tz).utcoffset():
            lo, hi = t, nxt
            while hi - lo > dt.timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(tz).utcoffset() == lo.astimezone(tz).utcoffset():
                    lo = mid
                else:
                    hi = mid
            found.append(hi.replace(second=0, microsecond=0))
        t = nxt
    return found


def vtimezone(name: str, first_year: int, last_year: int) -> list[str]:
    """A VTIMEZONE for `name` covering the given years: one observance per offset change in them."""
    tz = ZoneInfo(name)
    start = dt.datetime(first_year, 1, 1, tzinfo=dt.timezone.utc)
    end = dt.datetime(last_year + 1, 1, 1, tzinfo=dt.timezone.utc)
    lines = ["BEGIN:VTIMEZONE", f"TZID:{name}"]

    def observance(at_utc: dt.datetime, before: dt.timedelta, local_start: dt.datetime) -> None:
        local = at_utc.astimezone(tz)
        kind = "DAYLIGHT" if local.dst() else "STANDARD"
        lines.extend([f"BEGIN:{kind}", f"DTSTART:{local_stamp(local_start)}", f"TZOFFSETFROM:{_offset(before)}",
                      f"TZOFFSETTO:{_offset(local.utcoffset())}"])
        if local.tzname():
            lines.append(f"TZNAME:{escape_text(local.tzname())}")
        lines.append(f"END:{kind}")

    initial = start.astimezone(tz).utcoffset()
    observance(start, initial, dt.datetime(1970, 1, 1))
    for moment in _transitions(tz, start, end):
        before = (moment - dt.timedelta(minutes=1)).astimezone(tz).utcoffset()
        observance(moment, before, (moment + before).replace(tzinfo=None))
    lines.append("END:VTIMEZONE")
    return lines


@dataclass(frozen=True)
class Event:
    uid: str
    start: dt.datetime  # store-local
    end: dt.datetime
    stamp: dt.datetime  # store-local; written as UTC
    summary: str
    status: str  # TENTATIVE or CONFIRMED
    location: str | None = None
    description: str | None = None


def calendar(events: list[Event], tz_name: str, name: str) -> str:
    """The whole VCALENDAR text, CRLF line ends, every line folded."""
    tz = ZoneInfo(tz_name)
    years = [e.start.year for e in events] or [dt.date.today().year]
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN",
             f"X-WR-CALNAME:{escape_text(name)}", f"X-WR-TIMEZONE:{tz_name}",
             *vtimezone(tz_name, min(years), max(years))]
    for e in events:
        lines.extend(["BEGIN:VEVENT", f"UID:{escape_text(e.uid)}", f"DTSTAMP:{utc_stamp(e.stamp, tz)}",
                      f"DTSTART;TZID={tz_name}:{local_stamp(e.start)}", f"DTEND;TZID={tz_name}:{local_stamp(e.end)}",
                      f"SUMMARY:{escape_text(e.summary)}"])
        if e.location:
            lines.append(f"LOCATION:{escape_text(e.location)}")
        if e.description:
            lines.append(f"DESCRIPTION:{escape_text(e.description)}")
        lines.extend([f"STATUS:{e.status}", "END:VEVENT"])
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + CRLF for line in lines)

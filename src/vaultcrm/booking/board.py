"""The day board behind `agenda` (and the 排班 note): lanes per technician and per room, free gaps, clashes.

A lane holds the day's appointments of one technician (or room) in time order. Every appointment is
shown with its status; only 待服务, 已确认 and 服务中 ones can clash (as in `book`), and those plus
已完成 ones take time, so 空闲 is the time inside the technician's working hours (business hours within
their own, none on a 休息日) not taken by an appointment and the buffer around it. Two appointments
overlapping on one technician, or in one room, are a clash, flagged on both. Pure: records and settings in.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..core.config import Settings
from ..errors import VaultCRMError
from ..models import Appointment
from ..values import AppointmentStatus
from .absence import Away, on_leave_all_day
from .slots import day_bounds, is_day_off, occupancy

UNASSIGNED = "未安排"
TECHNICIAN, ROOM = "技师", "房间"


@dataclass(frozen=True)
class Entry:
    """One appointment as the board shows it."""

    appointment: Appointment
    start: dt.datetime
    end: dt.datetime
    is_gap = False

    @property
    def id(self) -> str:
        return self.appointment.id

    @property
    def customer(self) -> str:
        return self.appointment.info.customer_name or self.appointment.info.customer_id or ""

    @property
    def service(self) -> str:
        return self.appointment.service.service or ""

    @property
    def technician(self) -> str | None:
        return (self.appointment.service.technician or "").strip() or None

    @property
    def room(self) -> str | None:
        return (self.appointment.service.room or "").strip() or None

    @property
    def status(self) -> AppointmentStatus:
        return self.appointment.status

    @property
    def series(self) -> str | None:
        """`疗程 3/8` for an occurrence of a series (疗程), else None."""
        info = self.appointment.info
        if not info.series:
            return None
        return f"疗程 {info.series_position}" if info.series_position else "疗程"

    @property
    def blocks(self) -> bool:
        """Can clash (as in `book`)."""
        return self.appointment.is_active

    @property
    def takes_time(self) -> bool:
        return self.blocks or self.status is AppointmentStatus.COMPLETED


@dataclass(frozen=True)
class Gap:
    start: dt.datetime
    end: dt.datetime
    is_gap = True

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


@dataclass(frozen=True)
class OnLeave:
    """The part of a technician's leave that falls on the board's day (not free time)."""

    start: dt.datetime
    end: dt.datetime
    away: Away
    is_gap = False
    is_leave = True


@dataclass(frozen=True)
class Conflict:
    resource: str  # 技师 or 房间
    name: str
    first: Entry
    second: Entry

    @property
    def start(self) -> dt.datetime:
        return max(self.first.start, self.second.start)

    @property
    def end(self) -> dt.datetime:
        return min(self.first.end, self.second.end)

    def describe(self) -> str:
        what = "重复预约" if self.resource == TECHNICIAN else "超订"
        return (f"{self.resource} {self.name} {what} {self.start:%H:%M}–{self.end:%H:%M}："
                f"{self.first.id} {self.first.customer} {self.first.start:%H:%M}–{self.first.end:%H:%M} 与 "
                f"{self.second.id} {self.second.customer} {self.second.start:%H:%M}–{self.second.end:%H:%M}")


@dataclass
class Lane:
    kind: str  # 技师 or 房间
    name: str
    entries: list[Entry] = field(default_factory=list)
    free: list[Gap] = field(default_factory=list)  # technicians only
    hours: tuple[dt.datetime, dt.datetime] | None = None  # when the technician works that day
    day_off: str | None = None  # the 休息日 entry that makes the day a day off
    clashing: set[str] = field(default_factory=set)  # IDs of entries in a clash here
    leave: list[OnLeave] = field(default_factory=list)  # technicians only: their leave that day

    def timeline(self) -> list[Entry | Gap | OnLeave]:
        """Appointments, leave and free gaps in time order."""
        return sorted([*self.entries, *self.leave, *self.free], key=lambda item: (item.start, item.is_gap))


@dataclass
class Board:
    day: dt.date
    technicians: list[Lane]
    rooms: list[Lane]
    conflicts: list[Conflict]
    opening: dt.datetime  # the time axis: business hours, widened to every appointment shown
    closing: dt.datetime

    @property
    def entries(self) -> list[Entry]:
        seen: dict[str, Entry] = {}
        for lane in self.technicians + self.rooms:
            for e in lane.entries:
                seen.setdefault(e.id, e)
        return sorted(seen.values(), key=lambda e: (e.start, e.id))

    @property
    def clashing(self) -> set[str]:
        return {e.id for c in self.conflicts for e in (c.first, c.second)}


def _entries(appointments: Iterable[Appointment], day: dt.date, settings: Settings) -> list[Entry]:
    found = []
    for a in appointments:
        span = occupancy(a, settings)
        if a.info.date == day and span is not None:
            found.append(Entry(a, *span))
    return sorted(found, key=lambda e: (e.start, e.id))


def _conflicts(kind: str, name: str, entries: list[Entry]) -> list[Conflict]:
    active = [e for e in entries if e.blocks]
    return [Conflict(kind, name, a, b) for i, a in enumerate(active) for b in active[i + 1:]
            if a.start < b.end and b.start < a.end]


def free_gaps(entries: list[Entry], first: dt.datetime, last: dt.datetime, buffer_minutes: int) -> list[Gap]:
    """[first, last) without each time-taking entry and the buffer on either side of it."""
    buffer = dt.timedelta(minutes=buffer_minutes)
    gaps, cursor = [], first
    for e in sorted((e for e in entries if e.takes_time), key=lambda e: e.start):
        taken_from, taken_to = e.start - buffer, e.end + buffer
        if taken_from > cursor:
            gaps.append(Gap(cursor, min(taken_from, last)))
        cursor = max(cursor, taken_to)
        if cursor >= last:
            break
    if cursor < last:
        gaps.append(Gap(cursor, last))
    return [g for g in gaps if g.end > g.start]


def without_leave(gaps: list[Gap], leave: list[OnLeave]) -> list[Gap]:
    """The free gaps with the leave cut out of them."""
    for off in leave:
        cut = []
        for g in gaps:
            if off.start < g.end and g.start < off.end:
                cut += [part for part in (Gap(g.start, off.start), Gap(off.end, g.end)) if part.end > part.start]
            else:
                cut.append(g)
        gaps = cut
    return gaps


def _lane_names(configured: Iterable[str], used: Iterable[str | None]) -> list[str]:
    names = list(configured)
    extra = [n for n in dict.fromkeys(u or UNASSIGNED for u in used) if n not in names]
    return names + [n for n in extra if n != UNASSIGNED] + ([UNASSIGNED] if UNASSIGNED in extra else [])


ALL_ROOMS = "*"


def build_board(day: dt.date, appointments: Iterable[Appointment], settings: Settings, *,
                technician: str | None = None, room: str | None = None, away: Iterable[Away] = ()) -> Board:
    """The board of `day`: every technician's lane and every room's, or with `technician` that technician's
    lane alone, with `room` that room's (ALL_ROOMS: every room's) — and both with both. Clashes are
    those of the lanes shown. `away` is the technicians' leave: shown on their lanes, never free."""
    away = list(away)
    entries = _entries(appointments, day, settings)
    by_tech: dict[str, list[Entry]] = defaultdict(list)
    by_room: dict[str, list[Entry]] = defaultdict(list)
    for e in entries:
        by_tech[e.technician or UNASSIGNED].append(e)
        if e.room:
            by_room[e.room].append(e)
    techs, rooms, conflicts = [], [], []
    for name in _lane_names(settings.technicians, (e.technician for e in entries)):
        lane = Lane(TECHNICIAN, name, by_tech.get(name, []))
        found = _conflicts(TECHNICIAN, name, lane.entries) if name != UNASSIGNED else []
        conflicts += found
        lane.clashing = {e.id for c in found for e in (c.first, c.second)}
        conf = settings.technicians.get(name)
        lane.day_off = is_day_off(conf.days_off, day) if conf else None
        if name != UNASSIGNED and not lane.day_off:
            lane.hours = day_bounds(day, settings, name)
            lane.leave = [OnLeave(max(part[0], lane.hours[0]), min(part[1], lane.hours[1]), a) for a in away
                          if a.technician == name and (part := a.on(day)) and part[0] < lane.hours[1]
                          and lane.hours[0] < part[1]]
            if on_leave_all_day(name, *lane.hours, away):
                lane.day_off = f"请假 {lane.leave[0].away.leave_id}"
                lane.hours = None
            else:
                lane.free = without_leave(free_gaps(lane.entries, *lane.hours, settings.buffer_minutes or 0),
                                          lane.leave)
        if name == technician or (technician is None and room is None):
            techs.append(lane)
    for name in _lane_names(settings.rooms, (e.room for e in entries if e.room)):
        lane = Lane(ROOM, name, by_room.get(name, []))
        found = _conflicts(ROOM, name, lane.entries)
        conflicts += found
        lane.clashing = {e.id for c in found for e in (c.first, c.second)}
        if name == room or room == ALL_ROOMS or (room is None and technician is None):
            rooms.append(lane)
    for kind, asked, lanes, known in ((TECHNICIAN, technician, techs, list(settings.technicians)),
                                      (ROOM, room, rooms, list(settings.rooms))):
        if asked and asked != ALL_ROOMS and not lanes:
            raise VaultCRMError(f"未知的{kind}「{asked}」" + (f"，vaultcrm.yaml 中有：{'、'.join(known)}" if known else
                                                            f"：{day} 没有{kind}为「{asked}」的预约"))
    opening, closing = day_bounds(day, settings, None)
    shown = [e for lane in techs + rooms for e in lane.entries]
    opening = min([opening, *(e.start for e in shown)])
    closing = max([closing, *(e.end for e in shown)])
    shown_lanes = {(lane.kind, lane.name) for lane in techs + rooms}
    conflicts = sorted((c for c in conflicts if (c.resource, c.name) in shown_lanes),
                       key=lambda c: (c.start, c.resource, c.name))
    return Board(day, techs, rooms, conflicts, opening, closing)


@dataclass(frozen=True)
class GanttTask:
    label: str
    tags: str  # Mermaid's: crit (a clash), done (已完成), active (服务中)
    start: str  # HH:MM
    end: str


@dataclass(frozen=True)
class GanttSection:
    name: str
    tasks: list[GanttTask]


_GANTT_INERT = str.maketrans({"<": "‹", ">": "›", "[": "［", "]": "］", "{": "（", "}": "）", "\"": "'", "`": "'",
                              "%": "％", "|": "／", "\\": "＼"})


def _gantt_text(text: str) -> str:
    """A customer's or technician's name as a Mermaid gantt task or section name: plain text only.

    Mermaid reads `:` as the start of the task data and `#`/`;` as comments or breaks; names typed by
    hand may also hold what would be a link (`[[…]]`), HTML or a `%%` comment in the note around the
    chart, so those characters are shown as their full-width look-alikes.
    """
    for ch in ":：;#\r\n\t":
        text = text.replace(ch, " ")
    return " ".join(text.translate(_GANTT_INERT).split()) or "—"


def gantt_sections(board: Board) -> list[GanttSection]:
    """One section per technician lane with appointments that take time, a task per appointment."""
    sections = []
    for lane in board.technicians:
        tasks = []
        for e in lane.entries:
            if not e.takes_time:
                continue
            tags = "crit" if e.id in lane.clashing else {AppointmentStatus.COMPLETED: "done",
                                                         AppointmentStatus.IN_PROGRESS: "active"}.get(e.status, "")
            end = e.end if e.end.date() == e.start.date() else dt.datetime.combine(e.start.date(), dt.time(23, 59))
            label = _gantt_text(" ".join(x for x in (e.customer, e.service, e.room) if x))
            tasks.append(GanttTask(label, tags, f"{e.start:%H:%M}", f"{end:%H:%M}"))
        if tasks:
            sections.append(GanttSection(_gantt_text(lane.name), tasks))
    return sections


def board_json(board: Board) -> dict:
    """The board as SPEC's JSON: times HH:MM."""
    def item(e: Entry) -> dict:
        found = {"预约编号": e.id, "开始": f"{e.start:%H:%M}", "结束": f"{e.end:%H:%M}", "客户": e.customer,
                 "服务项目": e.service, "房间": e.room, "当前状态": e.status.value}
        if e.series:  # only on a series' occurrences: other items keep SPEC's keys alone
            found.update({"系列编号": e.appointment.info.series, "疗程序号": e.appointment.info.series_position})
        return found

    return {
        "日期": board.day.isoformat(),
        "技师": [{"技师": lane.name, "预约": [item(e) for e in lane.entries],
                  "空闲": [{"开始": f"{g.start:%H:%M}", "结束": f"{g.end:%H:%M}"} for g in lane.free],
                  **({"请假": [{"开始": f"{o.start:%H:%M}", "结束": f"{o.end:%H:%M}",
                               "请假编号": o.away.leave_id} for o in lane.leave]} if lane.leave else {})}
                 for lane in board.technicians],
        "房间": [{"房间": lane.name, "预约": [item(e) for e in lane.entries]} for lane in board.rooms],
        "冲突": [{"类型": c.resource, "名称": c.name, "开始": f"{c.start:%H:%M}", "结束": f"{c.end:%H:%M}",
                  "预约": [c.first.id, c.second.id]} for c in board.conflicts],
    }


__all__ = ["ALL_ROOMS", "Board", "Conflict", "Entry", "Gap", "OnLeave", "without_leave", "GanttSection", "GanttTask", "Lane", "ROOM", "TECHNICIAN", "UNASSIGNED", "board_json",
           "build_board", "free_gaps", "gantt_sections"]

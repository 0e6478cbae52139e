"""The status badge: how fresh the current snapshot is, or what a refresh is doing (docs/serve.md).

:func:`decide` is a pure function of the time, the current snapshot (or ``None``) and the
refresh status dict (the body of ``GET /api/refresh``, see :mod:`snapkit.serve.runs`):

- a refresh running (in this server or holding the store's lease): blue ``fetching`` with
  its elapsed time;
- a failed (or partial) refresh newer than the current snapshot: red ``failed`` with its
  reason;
- no snapshot yet: yellow ``none``;
- otherwise the current snapshot's age: green ``fresh`` under one day, yellow ``aging`` from
  one day to seven days (both included), red ``stale`` over seven days.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any, Literal, Protocol

from attrs import frozen

from snapkit.contracts import parse_time

BadgeState = Literal["fresh", "aging", "stale", "fetching", "failed", "none"]
Colour = Literal["green", "yellow", "red", "blue"]

DAY = 86_400.0
WEEK = 7 * DAY


class Dated(Protocol):
    """What the badge reads of a snapshot: its id and when it was created (ISO UTC)."""

    @property
    def id(self) -> str: ...

    @property
    def created_at(self) -> str: ...


@frozen
class Badge:
    """What the status badge shows.

    :param state: ``fresh``, ``aging``, ``stale``, ``fetching``, ``failed`` or ``none``.
    :param colour: ``green``, ``yellow``, ``red`` or ``blue``.
    :param text: the badge's words, e.g. ``Snapshot: 2 hours ago``.
    :param detail: one more line: the snapshot's id, the failure's reason, the run's start.
    """

    state: BadgeState
    colour: Colour
    text: str
    detail: str

    @property
    def action(self) -> str:
        """The button the status page offers beside the badge: Retry, Create or Refresh."""
        return {"failed": "Retry", "none": "Create snapshot"}.get(self.state, "Refresh")


def decide(now: _dt.datetime, current: Dated | None, status: Mapping[str, Any]) -> Badge:
    """The badge for ``current`` at ``now`` given the refresh ``status`` dict."""
    running = _running(now, status)
    if running is not None:
        return running
    failure = _failure(current, status)
    if failure is not None:
        return failure
    if current is None:
        return Badge(
            "none", "yellow", "No snapshot yet", "Create the first snapshot to search and compare."
        )
    age = (now - parse_time(current.created_at)).total_seconds()
    detail = f"Snapshot {current.id[:12]}, created {format_time(current.created_at)}"
    parts = getattr(current, "parts", None)
    if parts is not None:
        records = sum(int(part.records) for part in parts)
        detail = f"{records:,} records in {len(parts)} tables; {detail[0].lower()}{detail[1:]}"
    text = f"Snapshot: {age_text(age)}"
    if age < DAY:
        return Badge("fresh", "green", text, detail)
    if age <= WEEK:
        return Badge("aging", "yellow", text, detail)
    return Badge("stale", "red", text, detail)


def _running(now: _dt.datetime, status: Mapping[str, Any]) -> Badge | None:
    run = status.get("run") or {}
    lock = status.get("lock") or {}
    if not (status.get("running") or lock):
        return None
    if run.get("state") == "running":
        elapsed = float(run.get("elapsed_s") or 0.0)
        started = str(run.get("started_at") or "")
    elif lock.get("acquired_at"):
        started = str(lock["acquired_at"])
        elapsed = (now - parse_time(started)).total_seconds()
    else:
        started, elapsed = "", 0.0
    detail = f"Started {format_time(started)}" if started else "Refresh in progress"
    if lock.get("holder") and run.get("state") != "running":
        detail += f" by {lock['holder']}"
    return Badge("fetching", "blue", f"Fetching: {duration_text(elapsed)}", detail)


def _failure(current: Dated | None, status: Mapping[str, Any]) -> Badge | None:
    failure = status.get("last_failure")
    if failure:
        reason = str(failure.get("reason") or "failed")
        message = str(failure.get("message") or "")
        when = str(failure.get("created_at") or "")
    else:
        run = status.get("run") or {}
        error = run.get("error") or {}
        if run.get("state") != "failed" or not error:
            return None
        when = str(run.get("finished_at") or run.get("started_at") or "")
        if current is not None and when and parse_time(when) <= parse_time(current.created_at):
            return None
        reason = str(error.get("reason") or "failed")
        message = str(error.get("message") or "")
    detail = f"{reason}: {message}" if message and message != reason else reason
    if when:
        detail += f" ({format_time(when)})"
    return Badge("failed", "red", "Refresh failed", detail)


def age_text(seconds: float) -> str:
    """How old something is, in words: ``just now``, ``5 minutes ago``, ``3 days ago``."""
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return "just now"
    for unit, size in (("day", DAY), ("hour", 3600.0), ("minute", 60.0)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    return "just now"  # pragma: no cover - every age >= 60 s has a unit above


def duration_text(seconds: float) -> str:
    """An elapsed time: ``12 s``, ``3 min 5 s``, ``1 h 2 min``."""
    total = max(int(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def format_time(value: str) -> str:
    """An ISO time as people read it, in UTC: ``2026-12-06 02:10 UTC`` (empty if unreadable)."""
    try:
        return parse_time(value).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return ""

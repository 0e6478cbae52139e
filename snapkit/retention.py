"""Retention decisions as a pure function, shared by every snapshot store.

:func:`decide` takes the snapshots a store holds (as :class:`snapkit.contracts.SnapshotInfo`),
a :class:`snapkit.store.RetentionPolicy`, the current pointer's target and the time, and says for
each snapshot whether it is kept and every reason why. It reads no files and no clock, so a
store's ``prune`` only has to remove what the decisions drop, and a dry run only has to show
them.

Rules (a snapshot is kept if any rule keeps it):

- the pointer's target, the newest ``success`` and the newest ``failed`` run are always kept;
- ``keep_last=N`` keeps the N newest snapshots of any status;
- ``keep_daily=D`` keeps the newest ``success`` or ``partial`` snapshot of each of the D most
  recent UTC days that have one (a failed run never stands for its day);
- ``max_age_days=A`` keeps every snapshot at most A days old; older ones go unless another rule
  keeps them.

A policy with no rule set keeps everything.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable

from snapkit.contracts import SnapshotInfo, parse_time
from snapkit.store import RetentionDecision, RetentionPolicy

POINTER_TARGET = "pointer target"
LAST_SUCCESS = "last success"
NEWEST_FAILED = "newest failed run"
NO_RULE = "no retention rule set"
NOT_KEPT = "no rule keeps it"


def newest_first(infos: Iterable[SnapshotInfo]) -> list[SnapshotInfo]:
    """Return ``infos`` sorted newest first (by ``created_at``, then id for a stable order)."""
    return sorted(infos, key=lambda info: (parse_time(info.created_at), info.id), reverse=True)


def decide(
    infos: Iterable[SnapshotInfo],
    policy: RetentionPolicy,
    pointer_id: str | None,
    now: _dt.datetime,
) -> tuple[RetentionDecision, ...]:
    """Decide which snapshots a retention policy keeps, and why.

    :param infos: every snapshot the store holds, in any order; duplicates by id are ignored.
    :param policy: the rules to apply.
    :param pointer_id: the current pointer's target, or ``None``.
    :param now: the time ages are measured from (aware, or naive meaning UTC).
    :returns: one decision per snapshot, newest first; a kept snapshot lists every reason that
        keeps it, a dropped one says why it goes.
    :raises ValueError: if a rule is negative.
    """
    _check(policy)
    now = now if now.tzinfo else now.replace(tzinfo=_dt.UTC)
    unique: dict[str, SnapshotInfo] = {}
    for info in infos:
        unique.setdefault(info.id, info)
    ordered = newest_first(unique.values())
    reasons: dict[str, list[str]] = {info.id: [] for info in ordered}

    if pointer_id is not None and pointer_id in reasons:
        reasons[pointer_id].append(POINTER_TARGET)
    _mark_newest(ordered, reasons, "success", LAST_SUCCESS)
    _mark_newest(ordered, reasons, "failed", NEWEST_FAILED)

    any_rule = any(
        rule is not None for rule in (policy.keep_last, policy.keep_daily, policy.max_age_days)
    )
    if policy.keep_last is not None:
        for rank, info in enumerate(ordered[: policy.keep_last], start=1):
            reasons[info.id].append(f"keep_last {policy.keep_last} (#{rank})")
    if policy.keep_daily is not None:
        _mark_daily(ordered, reasons, policy.keep_daily)
    if policy.max_age_days is not None:
        limit = _dt.timedelta(days=policy.max_age_days)
        for info in ordered:
            if now - parse_time(info.created_at) <= limit:
                reasons[info.id].append(f"within max age {policy.max_age_days:g} days")

    decisions = []
    for info in ordered:
        why = reasons[info.id]
        if not any_rule:
            why.append(NO_RULE)
        keep = bool(why)
        if not keep:
            why.append(_drop_reason(info, policy, now))
        decisions.append(
            RetentionDecision(
                snapshot_id=info.id,
                created_at=info.created_at,
                status=info.status,
                keep=keep,
                reasons=tuple(why),
            )
        )
    return tuple(decisions)


def _check(policy: RetentionPolicy) -> None:
    for name in ("keep_last", "keep_daily", "max_age_days"):
        value = getattr(policy, name)
        if value is not None and value < 0:
            raise ValueError(f"retention rule {name} is {value}; use 0 or more, or leave it unset")


def _mark_newest(
    ordered: list[SnapshotInfo], reasons: dict[str, list[str]], status: str, reason: str
) -> None:
    for info in ordered:
        if info.status == status:
            reasons[info.id].append(reason)
            return


def _mark_daily(ordered: list[SnapshotInfo], reasons: dict[str, list[str]], days: int) -> None:
    seen: set[_dt.date] = set()
    for info in ordered:
        if info.status == "failed":
            continue
        day = parse_time(info.created_at).date()
        if day in seen:
            continue
        if len(seen) >= days:
            return
        seen.add(day)
        reasons[info.id].append(f"daily {day.isoformat()}")


def _drop_reason(info: SnapshotInfo, policy: RetentionPolicy, now: _dt.datetime) -> str:
    if policy.max_age_days is not None:
        age = now - parse_time(info.created_at)
        if age > _dt.timedelta(days=policy.max_age_days):
            return f"older than {policy.max_age_days:g} days"
    return NOT_KEPT

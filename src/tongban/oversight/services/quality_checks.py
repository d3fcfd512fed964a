"""Measuring one resource's data quality from its records (the engine behind ``quality``).

One streaming pass over the records (``.iterator(chunk_size=...)``, bounded memory) checks each
record for completeness, validity, duplicates and consistency; duplicates are found first by
the database (grouping the normalised identifying values), and consistency looks up the same
subjects in the other resources chunk by chunk. Timeliness reads only the latest load.

Dimensions are 0–100, ``None`` where not applicable:

* completeness — share of the required items filled (all items when none is required);
* validity — share of the non-empty values that pass the item's data-element rule
  (``catalog.services.validator_for``: types, code lists, ID-number and USCC checksums);
* timeliness (数据活性) — age of the last load against the declared update cycle: 100 within the
  cycle plus a day's grace, falling linearly to 0 at three cycles; ``irregular``: not applicable;
* uniqueness — share of records involved in no duplicate of an identifying value (the subject
  key after normalisation, items bound to identifier elements such as certificate numbers);
* consistency — share of the compared values (items bound to the same data element, by subject)
  that agree with every other resource holding that subject; not applicable when no other
  resource shares such an element and subject.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django.db.models.fields.json import KT
from django.db.models.functions import Trim, Upper

from tongban.catalog.models import SUBJECT_TYPES, Item, Resource
from tongban.catalog.services import validator_for
from tongban.core.errors import InvalidInput
from tongban.exchange.models import Batch, Record

DIMENSIONS = ("completeness", "validity", "timeliness", "uniqueness", "consistency")
DEFAULT_WEIGHTS = {"completeness": 0.25, "validity": 0.25, "timeliness": 0.2, "uniqueness": 0.15,
                   "consistency": 0.15}
# Elements whose values identify a thing (a duplicate is a defect): certificate numbers.
DEFAULT_IDENTIFIER_ELEMENTS = ("DE00018",)
# Stable attributes of a subject that every resource holding them must agree on.
DEFAULT_CONSISTENCY_ELEMENTS = ("DE00002", "DE00003", "DE00004", "DE00010", "DE00011", "DE00013")
# Update cycle → days (real time is judged like daily: loads are batches).
CYCLE_DAYS = {"realtime": 1, "daily": 1, "weekly": 7, "monthly": 30, "quarterly": 91, "yearly": 365}
GRACE_DAYS = 1
MAX_ISSUES = 50
CHUNK = 1000

Progress = Callable[[int, int], None]


def weights() -> dict[str, float]:
    """The dimension weights: ``TONGBAN_QUALITY_WEIGHTS`` over the defaults (bad values ignored)."""
    merged = dict(DEFAULT_WEIGHTS)
    for key, value in (getattr(settings, "TONGBAN_QUALITY_WEIGHTS", None) or {}).items():
        if key in merged and isinstance(value, int | float) and value >= 0:
            merged[key] = float(value)
    return merged


def weighted(dimensions: dict[str, float | None], used: dict[str, float]) -> float:
    """Weighted mean of the applicable dimensions (their plain mean if all weights are 0)."""
    applicable = {k: v for k, v in dimensions.items() if v is not None}
    if not applicable:
        return 0.0
    total = sum(used.get(k, 0.0) for k in applicable)
    if total <= 0:
        return round(sum(applicable.values()) / len(applicable), 2)
    return round(sum(v * used.get(k, 0.0) for k, v in applicable.items()) / total, 2)


def timeliness(cycle: str, last_load, now) -> float | None:
    days = CYCLE_DAYS.get(cycle)
    if days is None:
        return None
    if last_load is None:
        return 0.0
    age = (now - last_load).total_seconds() / 86400
    full, zero = days + GRACE_DAYS, 3 * days
    zero = max(zero, full + days)
    if age <= full:
        return 100.0
    if age >= zero:
        return 0.0
    return round(100 * (zero - age) / (zero - full), 2)


def _share(good: int, total: int) -> float | None:
    return round(100 * good / total, 2) if total else None


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _same(value: Any) -> str:
    return " ".join(str(value).split()).casefold()


def _chunks(rows: Iterable, size: int) -> Iterator[list]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _elements(name: str, default: tuple[str, ...]) -> frozenset[str]:
    return frozenset(getattr(settings, name, None) or default)


# --- duplicates (by the database) and peers (resources to compare with) ------------------------------------------


def _involved(code: str, expression) -> set[str]:
    """Subjects of the records whose normalised value of ``expression`` occurs more than once."""
    rows = Record.objects.filter(resource_code=code).order_by().annotate(norm=expression)
    groups = (rows.exclude(Q(norm__isnull=True) | Q(norm="")).values("norm").annotate(n=Count("pk"))
              .filter(n__gt=1).values("norm"))
    return set(rows.filter(norm__in=groups).values_list("subject", flat=True))


def duplicates(code: str, subject_key: str, identifiers: list[Item]) -> dict[str, set[str]]:
    """Item key → subjects of the records involved in a duplicate of that identifying value."""
    found = {subject_key: _involved(code, Upper(Trim("subject")))}
    for item in identifiers:
        found[item.key] = _involved(code, Upper(Trim(KT(f"data__{item.key}"))))
    return found


@dataclass
class Peer:
    code: str
    pairs: list[tuple[Item, str]]  # (my item, the peer's item key bound to the same element)


def _effective(data_type: str, element_type: str | None) -> str:
    return element_type or data_type


def peers(resource: Resource, items: list[Item], subject_type: str) -> list[Peer]:
    """Other published resources keyed by the same kind of subject that hold an item bound to one of
    this resource's consistency elements."""
    elements = _elements("TONGBAN_QUALITY_CONSISTENCY_ELEMENTS", DEFAULT_CONSISTENCY_ELEMENTS)
    mine = {item.data_element.identifier: item for item in items
            if item.data_element_id and not item.is_subject_key and item.data_element.identifier in elements}
    if not mine:
        return []
    # Only resources the department may read anyway: its own, and 无条件共享 ones — comparing with
    # a conditional or 不予共享 register would tell the steward who is in it (and read it unlogged).
    theirs = (Item.objects.filter(resource__status=Resource.Status.PUBLISHED, data_element__identifier__in=mine,
                                  is_subject_key=False)
              .filter(Q(resource__department_id=resource.department_id)
                      | Q(resource__sharing=Resource.Sharing.OPEN_SHARE))
              .exclude(resource__code=resource.code)
              .values_list("resource_id", "resource__code", "key", "data_element__identifier"))
    by_resource: dict[int, tuple[str, list]] = {}
    for resource_id, code, key, identifier in theirs:
        by_resource.setdefault(resource_id, (code, []))[1].append((mine[identifier], key))
    kinds = {rid: _effective(data_type, element_type) for rid, data_type, element_type in
             Item.objects.filter(resource_id__in=by_resource, is_subject_key=True)
             .values_list("resource_id", "data_type", "data_element__data_type")}
    return sorted((Peer(code, pairs) for rid, (code, pairs) in by_resource.items()
                   if SUBJECT_TYPES.get(kinds.get(rid)) == SUBJECT_TYPES.get(subject_type)),
                  key=lambda peer: peer.code)


def _peer_records(peer: Peer, subjects: list[str]) -> dict[str, dict]:
    wanted = set(subjects) | {s.strip().upper() for s in subjects}
    return {subject.strip().upper(): data for subject, data in
            Record.objects.filter(resource_code=peer.code, subject__in=wanted).values_list("subject", "data")}


# --- the pass over the records ------------------------------------------------------------------------------------


@dataclass
class Measurement:
    records: int = 0
    dimensions: dict[str, float | None] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    worst: list[tuple[str, list[tuple[str, str, str]]]] = field(default_factory=list)  # (subject, problems)


class _Worst:
    """The records with the most problems (a bounded min-heap)."""

    def __init__(self, size: int) -> None:
        self.size, self.heap, self.counter = size, [], itertools.count()

    def add(self, subject: str, problems: list[tuple[str, str, str]]) -> None:
        entry = (len(problems), -next(self.counter), subject, problems)
        if len(self.heap) < self.size:
            heapq.heappush(self.heap, entry)
        elif entry[:2] > self.heap[0][:2]:
            heapq.heapreplace(self.heap, entry)

    def rows(self) -> list[tuple[str, list]]:
        return [(subject, problems) for _, _, subject, problems in sorted(self.heap, reverse=True)]


def _label(item: Item) -> tuple[str, str]:
    return item.name, item.name_en or (item.data_element.name_en if item.data_element_id else "") or item.key


def measure(resource: Resource, items: list[Item], *, now, progress: Progress | None = None,
            chunk_size: int | None = None) -> Measurement:
    code = resource.code
    chunk_size = chunk_size or CHUNK
    total = Record.objects.filter(resource_code=code).count()
    subject_item = next(item for item in items if item.is_subject_key)
    # The subject key is always there (records are keyed by it): completeness is about the others.
    others = [item for item in items if not item.is_subject_key] or list(items)
    required = [item for item in others if item.required] or others
    validators = [(item, validator_for(item)) for item in items]
    identifier_elements = _elements("TONGBAN_QUALITY_IDENTIFIER_ELEMENTS", DEFAULT_IDENTIFIER_ELEMENTS)
    identifiers = [item for item in items if not item.is_subject_key and item.data_element_id
                   and item.data_element.identifier in identifier_elements]
    involved = duplicates(code, subject_item.key, identifiers)
    dup_union = set().union(*involved.values())
    compared_with = peers(resource, items, subject_item.effective_type)
    labels = {item.key: _label(item) for item in items}
    stats = {item.key: {"filled": 0, "empty": 0, "valid": 0, "invalid": 0, "duplicates": len(involved.get(item.key, ())),
                        "compared": 0, "disagreements": 0} for item in items}
    cells = filled = values = valid = compared = agreeing = 0
    worst = _Worst(MAX_ISSUES)
    done = 0
    rows = (Record.objects.filter(resource_code=code).order_by("subject").values_list("subject", "data")
            .iterator(chunk_size=chunk_size))
    for chunk in _chunks(rows, chunk_size):
        others = {peer.code: _peer_records(peer, [s for s, _ in chunk]) for peer in compared_with}
        for subject, data in chunk:
            data = data if isinstance(data, dict) else {}
            problems: list[tuple[str, str, str]] = []
            for item in required:
                cells += 1
                if _empty(data.get(item.key)):
                    zh, en = labels[item.key]
                    problems.append(("completeness", item.key, f"{zh}未填写 / {en} is missing"))
                else:
                    filled += 1
            for item, validate in validators:
                value = data.get(item.key)
                row = stats[item.key]
                if _empty(value):
                    row["empty"] += 1
                    continue
                row["filled"] += 1
                values += 1
                try:
                    if isinstance(value, dict | list):
                        raise InvalidInput("应为单个值", "Must be a single value", code="not_a_value")
                    validate(value)
                except InvalidInput as error:
                    row["invalid"] += 1
                    zh, en = labels[item.key]
                    problems.append(("validity", item.key,
                                     f"{zh}：{error.message_zh} / {en}: {error.message_en}"[:300]))
                except (TypeError, ValueError):  # a value no rule expected: invalid all the same
                    row["invalid"] += 1
                    zh, en = labels[item.key]
                    problems.append(("validity", item.key, f"{zh}：值无效 / {en}: invalid value"))
                else:
                    row["valid"] += 1
                    valid += 1
            for key, subjects in involved.items():
                if subject in subjects:
                    zh, en = labels[key]
                    problems.append(("uniqueness", key, f"{zh}重复 / Duplicate {en}"))
            normal = subject.strip().upper()
            for peer in compared_with:
                other = others[peer.code].get(normal)
                if other is None:
                    continue
                for item, their_key in peer.pairs:
                    mine, theirs = data.get(item.key), other.get(their_key)
                    if _empty(mine) or _empty(theirs):
                        continue
                    compared += 1
                    stats[item.key]["compared"] += 1
                    if _same(mine) == _same(theirs):
                        agreeing += 1
                    else:
                        stats[item.key]["disagreements"] += 1
                        zh, en = labels[item.key]
                        problems.append(("consistency", item.key,
                                         f"{zh}与资源 {peer.code} 不一致 / {en} differs from {peer.code}"[:300]))
            if problems:
                worst.add(subject, problems)
        done += len(chunk)
        if progress is not None:
            progress(done, total)
    last_load = Batch.objects.filter(resource_code=code).order_by("-created_at", "-id").values_list(
        "created_at", flat=True).first()
    dimensions = {
        "completeness": _share(filled, cells),
        "validity": _share(valid, values),
        "timeliness": timeliness(resource.update_cycle, last_load, now),
        "uniqueness": _share(done - len(dup_union), done),
        "consistency": _share(agreeing, compared),
    }
    details = {
        "items": stats,
        "completeness": {"required": [item.key for item in required], "cells": cells, "filled": filled},
        "validity": {"values": values, "valid": valid},
        "timeliness": {"update_cycle": resource.update_cycle, "last_load": last_load.isoformat() if last_load else None,
                       "age_days": round((now - last_load).total_seconds() / 86400, 2) if last_load else None},
        "uniqueness": {"keys": list(involved), "duplicate_records": len(dup_union)},
        "consistency": {"compared": compared, "agreeing": agreeing, "with": [peer.code for peer in compared_with]},
    }
    return Measurement(records=done, dimensions=dimensions, details=details, worst=worst.rows())

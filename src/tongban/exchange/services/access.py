"""Consuming shared records under a grant: query, lookup, verify (核验) and the change feed.

Every call is authorized (``authz``: the caller, then the grant for the mode), returns only
granted items, masks those the grant does not clear, and is logged as one ``Access`` row — the
durable queue that ``sealing`` turns into ledger entries. The shape of each call is the hot
path's:

1. reads first, outside any transaction: the grant and the resource view from per-process
   caches, then the record(s) together with the access generation, in ONE statement for a
   single subject; a moved generation drops the caches and re-checks the caller and grant;
2. one short write: the rate-limit counter (``RateWindow`` upsert per grant per minute, taken
   in leases for high limits, see ``LEASE_WRITES_PER_MINUTE``; at the limit → 429 and nothing
   logged) and the ``Access`` row (plus ``AccessSubject`` rows for several subjects);
3. the answer, returned only after that commit: no answered access is ever lost.

Per database, for one subject outside any transaction (the API): SQLite reads in one statement,
then writes in one short ``BEGIN IMMEDIATE`` transaction on the driver's connection (the write
lock is taken at BEGIN, so the read stays outside). PostgreSQL does the read and the access row
in ONE statement (``_READ_AND_LOG_PG``: one round trip, the row written only if the generation
is the one the caches were checked against); the counter, when a lease is needed, commits on its
own without waiting for the WAL flush (``_COUNT_PG_NO_FLUSH_WAIT``).

The code is in three modules: this one (query, lookup, verify, the change feed: the public
functions, with ``subject_hash``, ``record_access``, ``count_request`` re-exported),
``access_read`` (authorization with the generation check; one subject's read-and-log) and
``access_log`` (the write: rate-limit counter and access row).

These functions open their short write transaction themselves (the exception to "the caller
holds the transaction" that DESIGN §3 makes for hot read paths); inside an outer transaction it
becomes a savepoint. Subjects are logged by keyed hash only: ``Access.subject_hash`` when an
access concerns exactly one subject, ``AccessSubject`` rows when it concerns several.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from tongban.core import generations
from tongban.core.errors import InvalidInput
from tongban.exchange.models import Record, RecordVersion
from tongban.exchange.services.access_log import (  # noqa: F401 - re-exported: callers use access.*
    LEASE_WRITES_PER_MINUTE,
    _subject_fields,
    count_request,
    lease_size,
    rate_limited,
    record_access,
    subject_hash,
)
from tongban.exchange.services.access_read import (  # noqa: F401 - re-exported: callers use access.*
    _after_read,
    _authorize,
    _json,
    _read_and_log,
    record_not_found,
)
from tongban.exchange.services.authz import GrantView, ResourceView
from tongban.identity.access import Actor

MAX_SUBJECTS = 1000
MAX_CHANGES = 1000
DEFAULT_CHANGES = 500


# --- query ------------------------------------------------------------------------------------------------


def query(actor: Actor, code: str, subject: str, *, now: float | None = None) -> dict:
    """One subject's record: granted items only, masked unless cleared. 404 ``record_not_found``
    (still logged as an access, ``found=0``)."""
    now = time.time() if now is None else now
    actor, grant, resource = _authorize(actor, code, "query", now)
    subject = resource.normalise_subject(subject)
    actor, grant, data = _read_and_log(actor, grant, code, subject, "query",
                                       lambda chosen: chosen.projection(resource).items_json, now)
    projection = grant.projection(resource)
    if data is None:
        raise record_not_found()
    return {"resource": code, "grant": grant.id, "record": projection.apply(data), "masked": projection.masked}


def query_json(actor: Actor, code: str, subject: str, *, now: float | None = None) -> bytes:
    """``query`` serialised (the API's hot path answers these bytes as they are)."""
    return json.dumps(query(actor, code, subject, now=now), ensure_ascii=False, separators=(",", ":")).encode()


# --- lookup -----------------------------------------------------------------------------------------------


def _normalise_subjects(resource: ResourceView, subjects: Any) -> list[str]:
    if not isinstance(subjects, list) or not subjects:
        raise InvalidInput("请提供要查询的主体标识列表", "Give a non-empty list of subjects", code="subjects_required")
    if len(subjects) > MAX_SUBJECTS:
        raise InvalidInput(f"一次最多查询 {MAX_SUBJECTS} 个主体", f"At most {MAX_SUBJECTS} subjects per lookup",
                           code="too_many_subjects", details={"max": MAX_SUBJECTS, "given": len(subjects)})
    normalised, invalid = [], []
    for index, subject in enumerate(subjects):
        try:
            normalised.append(resource.normalise_subject(subject if isinstance(subject, str) else ""))
        except InvalidInput as error:
            reason = error.details.get("reason") if isinstance(error.details, dict) else None
            invalid.append({"index": index, "code": error.code, "reason": reason})
    if invalid:
        raise InvalidInput("部分主体标识格式有误", "Some subjects are malformed", code="invalid_subjects",
                           details={"invalid": invalid})
    return normalised


def lookup(actor: Actor, code: str, subjects: list[str], *, now: float | None = None) -> dict:
    """Up to 1,000 subjects at once (422 ``too_many_subjects``; malformed ones listed by index in
    422 ``invalid_subjects``). Results in request order; one access for the whole lookup."""
    now = time.time() if now is None else now
    actor, grant, resource = _authorize(actor, code, "lookup", now)
    normalised = _normalise_subjects(resource, subjects)
    distinct = list(dict.fromkeys(normalised))
    generation = generations.current()
    rows = dict(Record.objects.filter(resource_code=code, subject__in=distinct).values_list("subject", "data"))
    actor, grant = _after_read(actor, grant, code, "lookup", generation, now)
    projection = grant.projection(resource)
    hashes = [subject_hash(subject) for subject in distinct]
    record_access(actor, grant, "lookup", items_json=projection.items_json, found=len(rows), now=now,
                  **_subject_fields(hashes))
    results = []
    for subject in normalised:
        data = rows.get(subject)
        results.append({"subject": subject, "found": data is not None,
                        "record": projection.apply(data) if data is not None else None})
    return {"resource": code, "grant": grant.id, "found": len(rows), "results": results, "masked": projection.masked}


# --- verify -----------------------------------------------------------------------------------------------


def _normalise_claims(grant: GrantView, resource: ResourceView, claims: Any) -> dict[str, Any]:
    if not isinstance(claims, dict) or not claims:
        raise InvalidInput("请提供要核验的信息项及其值", "Give the items and values to verify", code="claims_required")
    if resource.subject_key and resource.subject_key in claims:
        # The subject key matches exactly when the subject has a record: it would reveal existence.
        raise InvalidInput("不能核验主体标识本身（它只用于指明要核验的主体）",
                           "The subject's own identifier cannot be verified (it only names the subject)",
                           code="subject_key_claim", details={"item": resource.subject_key})
    granted = set(grant.items).intersection(resource.items)
    not_granted = sorted(key for key in claims if key not in granted)
    if not_granted:
        raise InvalidInput("只能核验授权范围内的信息项", "Only granted items can be verified",
                           code="claims_not_granted", details={"items": not_granted})
    normalised, problems = {}, []
    for key, value in claims.items():
        try:
            clean = resource.validator(key)(value)
        except InvalidInput as error:
            problems.append({"item": key, "code": error.code})
            continue
        if clean is None:
            problems.append({"item": key, "code": "value_required"})
            continue
        normalised[key] = clean
    if problems:
        raise InvalidInput("核验值格式有误", "Some claimed values are malformed", code="invalid_claims",
                           details={"invalid": problems})
    return normalised


def verify(actor: Actor, code: str, subject: str, claims: dict, *, now: float | None = None) -> dict:
    """Claimed values compared with the stored ones: ``match``/``no_match`` per item, never the
    stored values. An unknown subject answers ``no_match`` for every item, and the subject-key item
    cannot be claimed (422 ``subject_key_claim``): existence is not revealed."""
    now = time.time() if now is None else now
    actor, grant, resource = _authorize(actor, code, "verify", now)
    normalised = _normalise_claims(grant, resource, claims)
    subject = resource.normalise_subject(subject)
    checked_against = grant
    actor, grant, data = _read_and_log(actor, grant, code, subject, "verify",
                                       lambda chosen: json.dumps(sorted(normalised)), now)
    if grant is not checked_against:  # re-checked meanwhile: the claims must fit the grant now in force
        _normalise_claims(grant, resource, claims)
    results = {}
    for key, value in normalised.items():
        stored = data.get(key) if data is not None else None
        results[key] = "match" if stored is not None and stored == value else "no_match"
    return {"resource": code, "grant": grant.id, "results": results,
            "all_match": all(result == "match" for result in results.values())}


# --- changes ----------------------------------------------------------------------------------------------


_DIGITS = re.compile(r"[0-9]{1,18}")


def _integer(value: Any, name: str, *, minimum: int, maximum: int | None = None) -> int:
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        number = int(value.strip())
    if number is None or number < minimum or (maximum is not None and number > maximum):
        bounds = f"{minimum}–{maximum}" if maximum is not None else f"≥ {minimum}"
        raise InvalidInput(f"参数 {name} 应为整数（{bounds}）", f"{name} must be an integer ({bounds})",
                           code=f"invalid_{name}", details={name: str(value)[:40]})
    return number


def changes(actor: Actor, code: str, since: Any, limit: Any = DEFAULT_CHANGES, *, now: float | None = None) -> dict:
    """Changes after the cursor ``since`` (a change sequence; 0 from the start), oldest first:
    projected to the granted items and masked, with ``next`` (the cursor to pass next time)
    and ``has_more``. 422 ``invalid_since`` / ``invalid_limit``."""
    since = _integer(since, "since", minimum=0)
    limit = _integer(limit, "limit", minimum=1, maximum=MAX_CHANGES)
    now = time.time() if now is None else now
    actor, grant, resource = _authorize(actor, code, "changes", now)
    generation = generations.current()
    rows = list(
        RecordVersion.objects.filter(resource_code=code, seq__gt=since).order_by("seq")
        .values_list("seq", "subject", "data", "created_at")[: limit + 1]
    )
    actor, grant = _after_read(actor, grant, code, "changes", generation, now)
    has_more = len(rows) > limit
    rows = rows[:limit]
    projection = grant.projection(resource)
    if rows:
        hashes = [subject_hash(subject) for subject in dict.fromkeys(row[1] for row in rows)]
        record_access(actor, grant, "changes", items_json=projection.items_json, found=len(rows), now=now,
                      **_subject_fields(hashes))
    else:
        count_request(grant, now)  # nothing about anyone was read: counted, not logged
    return {
        "resource": code, "grant": grant.id,
        "changes": [{"seq": seq, "changed_at": changed_at.isoformat(), "record": projection.apply(data)}
                    for seq, _subject, data, changed_at in rows],
        "next": rows[-1][0] if rows else since, "has_more": has_more, "masked": projection.masked,
    }

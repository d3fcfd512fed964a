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

These functions open their short write transaction themselves (the exception to "the caller
holds the transaction" that DESIGN §3 makes for hot read paths); inside an outer transaction it
becomes a savepoint. Subjects are logged by keyed hash only: ``Access.subject_hash`` when an
access concerns exactly one subject, ``AccessSubject`` rows when it concerns several.
"""

from __future__ import annotations

import datetime
import json
import re
import sqlite3
import time
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction

from tongban.core import generations
from tongban.core.errors import InvalidInput, NotFound, PermissionDenied, RateLimited
from tongban.exchange.models import Record, RecordVersion
from tongban.exchange.services import authz
from tongban.exchange.services.authz import GrantView, ResourceView
from tongban.identity.access import Actor
from tongban.ledger import keystore
from tongban.ledger.canonical import keyed_subject_hash

MAX_SUBJECTS = 1000
MAX_CHANGES = 1000
DEFAULT_CHANGES = 500

_READ_ONE = (
    "SELECT (SELECT value FROM core_generation WHERE name = %s), "
    "(SELECT data FROM exchange_record WHERE resource_code = %s AND subject = %s)"
)
# The counter takes ``n`` (the lease) and stops at the limit: at or over it, the upsert changes
# nothing and returns no row.
_UPSERT_WINDOW = (
    "INSERT INTO exchange_ratewindow (grant_id, minute, count) VALUES (%s, %s, %s) "
    "ON CONFLICT (grant_id, minute) DO UPDATE SET count = exchange_ratewindow.count + %s "
    "WHERE exchange_ratewindow.count < %s RETURNING count"
)
_INSERT_ACCESS_SQLITE = (
    "INSERT INTO exchange_access (at, grant_id, resource_code, consumer_code, actor, mode, items, purpose, "
    "subject_hash, subject_count, found) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id"
)
_INSERT_ACCESS_PG = (
    "INSERT INTO exchange_access (at, grant_id, resource_code, consumer_code, actor, mode, items, purpose, "
    "subject_hash, subject_count, found) VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s) RETURNING id"
)
# PostgreSQL, outside any transaction: the counter on its own, committed without waiting for the
# WAL flush (set_config(..., true) applies to this statement's own transaction): the counter
# row is shared by every worker, and a lock on it held through each commit's flush would
# serialise them; a lost increment after a crash is harmless. The access row then commits
# durably, in parallel with the other workers' (group commit).
_COUNT_PG_NO_FLUSH_WAIT = (
    "WITH s AS (SELECT set_config('synchronous_commit', 'off', true)), "
    "w AS (INSERT INTO exchange_ratewindow (grant_id, minute, count) VALUES (%s, %s, %s) "
    "ON CONFLICT (grant_id, minute) DO UPDATE SET count = exchange_ratewindow.count + %s "
    "WHERE exchange_ratewindow.count < %s RETURNING count) "
    "SELECT (SELECT count FROM w) FROM s"
)
# PostgreSQL, one round trip for a single-subject read: the generation, the record, and the
# access row, all from one snapshot; the row is written only if the generation is the one the
# process's caches were checked against (else nothing is written, and the caller re-checks the
# caller and the grant before logging the access the ordinary way).
_READ_AND_LOG_PG = (
    "WITH g AS (SELECT value FROM core_generation WHERE name = %s), "
    "r AS (SELECT data FROM exchange_record WHERE resource_code = %s AND subject = %s), "
    "a AS (INSERT INTO exchange_access (at, grant_id, resource_code, consumer_code, actor, mode, items, purpose, "
    "subject_hash, subject_count, found) "
    "SELECT %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, 1, (SELECT count(*) FROM r) "
    "WHERE COALESCE((SELECT value FROM g), 0) = %s RETURNING id) "
    "SELECT (SELECT value FROM g), (SELECT data FROM r), (SELECT id FROM a)"
)
SUBJECT_ROWS_PER_INSERT = 500


def _insert_subjects(cursor, access_id: int, hashes: list[str]) -> None:
    """The AccessSubject rows, several per statement (one round trip per 500 on PostgreSQL)."""
    for start in range(0, len(hashes), SUBJECT_ROWS_PER_INSERT):
        chunk = hashes[start:start + SUBJECT_ROWS_PER_INSERT]
        cursor.execute("INSERT INTO exchange_accesssubject (access_id, subject_hash) VALUES "  # noqa: S608
                       + ", ".join(["(%s, %s)"] * len(chunk)), [v for h in chunk for v in (access_id, h)])


# --- the subject's keyed hash (ledger.subject_hash, with the secret looked up once) -----------------------

_secret: list = [None, b""]


def subject_hash(identifier: str) -> str:
    """``ledger.services.subject_hash`` without re-reading the keystore path on every call."""
    directory = settings.TONGBAN_KEYSTORE_DIR
    if _secret[0] != directory:
        _secret[1] = keystore.subject_secret()
        _secret[0] = directory
    return keyed_subject_hash(_secret[1], identifier)


# --- errors ------------------------------------------------------------------------------------------


def record_not_found() -> NotFound:
    return NotFound("该资源中没有此主体的记录", "No record of this subject in the resource", code="record_not_found")


def rate_limited(grant: GrantView, now: float) -> RateLimited:
    retry_after = max(1, 60 - int(now) % 60)
    return RateLimited(
        f"超过授权的调用频率（每分钟 {grant.rate_limit} 次），请 {retry_after} 秒后重试",
        f"Over the grant's rate limit ({grant.rate_limit} per minute); retry in {retry_after} s",
        code="rate_limited", details={"retry_after": retry_after, "limit_per_minute": grant.rate_limit},
    )


# --- authorization with the generation check ---------------------------------------------------------


def _authorize(actor: Actor, code: str, mode: str, now: float) -> tuple[Actor, GrantView, ResourceView]:
    """Caller and grant from the caches. A refusal is re-checked against the database when the
    generation moved (a grant created a moment ago must work on the next request)."""
    try:
        grant = authz.grant_for(actor, code, mode, now)
    except PermissionDenied:
        if not authz.observe_generation(generations.current()):
            raise
        actor, grant = authz.recheck(actor, code, mode, now)
    return actor, grant, authz.resource_view(code)


def _after_read(actor: Actor, grant: GrantView, code: str, mode: str, generation: int | None,
                now: float) -> tuple[Actor, GrantView]:
    """The generation read with the data: if it moved, the cached caller and grant are re-checked."""
    if authz.observe_generation(generation):
        return authz.recheck(actor, code, mode, now)
    return actor, grant


def _json(value: Any) -> Any:
    if value is None or isinstance(value, dict):
        return value
    return json.loads(value)


_READ_ONE_QMARK = _READ_ONE.replace("%s", "?")


def _raw_sqlite():
    """The driver's connection (the hot path skips Django's cursor wrappers on SQLite)."""
    connection.ensure_connection()
    return connection.connection


def _read_one(code: str, subject: str) -> tuple[int | None, dict | None]:
    """The access generation and the subject's record, in one statement (autocommit: no lock)."""
    if connection.vendor == "sqlite":
        _raw_sqlite()
        with connection.wrap_database_errors:
            generation, data = connection.connection.execute(_READ_ONE_QMARK,
                                                             (generations.ACCESS, code, subject)).fetchone()
    else:
        with connection.cursor() as cursor:
            cursor.execute(_READ_ONE, [generations.ACCESS, code, subject])
            generation, data = cursor.fetchone()
    return generation, _json(data)


# --- the write: rate limit and access log in one short transaction -------------------------------------


# Rate-limit leases. A grant's requests of one minute are counted in its RateWindow row. For
# limits up to LEASE_WRITES_PER_MINUTE a request, each request adds 1 (exact). Above, a worker
# process takes ``limit // LEASE_WRITES_PER_MINUTE`` at once and serves that many before it
# counts again, so the shared row is written at most ~LEASE_WRITES_PER_MINUTE times a minute
# whatever the request rate: on PostgreSQL every update of one row leaves a dead version that
# the next must step over, and at a thousand requests a second that chain (and its CPU) grows
# all minute. The price: a process may hold up to a lease of unused capacity when the minute
# ends (≤ 1/1,200 of the limit per process), i.e. another process can be refused a little
# early; nobody is ever served beyond the limit.
LEASE_WRITES_PER_MINUTE = 1200


def lease_size(limit: int) -> int:
    return max(1, limit // LEASE_WRITES_PER_MINUTE)


def _leased(grant: GrantView, minute: int) -> bool:
    """Take one request from this process's lease of the grant's current minute, if any is left."""
    lease = authz.leases.get(grant.id)
    if lease is not None and lease[0] == minute and lease[1] > 0:
        authz.leases[grant.id] = (minute, lease[1] - 1)
        return True
    return False


def _keep_lease(grant: GrantView, minute: int, size: int, new_count: int) -> None:
    """After the commit: what this process may still serve of the lease it just took."""
    got = min(size, grant.rate_limit - (new_count - size))
    if got > 1:
        authz.leases[grant.id] = (minute, got - 1)


def record_access(actor: Actor, grant: GrantView, mode: str, *, items_json: str, subject_hash: str = "",
                  subject_count: int = 0, found: int = 0, subject_hashes: list[str] | None = None,
                  now: float | None = None, counted: bool = False) -> int:
    """Count the request against the grant's rate limit and log the access; returns its id.

    Raises 429 ``rate_limited`` (nothing logged) when the grant's per-minute limit is reached.
    ``counted``: the request was already counted (only the access row is written).
    """
    now = time.time() if now is None else now
    minute = int(now // 60)
    if grant.rate_limit < 1:
        raise rate_limited(grant, now)
    size = lease_size(grant.rate_limit)
    # A request served from the lease writes no counter; one that takes a lease writes it.
    counter = None if counted or (size > 1 and _leased(grant, minute)) else [
        grant.id, minute, size, size, grant.rate_limit]
    at = connection.ops.adapt_datetimefield_value(datetime.datetime.fromtimestamp(now, datetime.UTC))
    values = [at, grant.id, grant.resource_code, actor.department_code or "", actor.username[:150], mode,
              items_json, grant.purpose, subject_hash, subject_count, found]
    vendor = connection.vendor
    on_its_own = connection.get_autocommit() and not connection.in_atomic_block
    if vendor == "sqlite" and not subject_hashes and on_its_own:
        access_id, new_count = _record_sqlite_raw(counter, values)
    elif vendor == "postgresql" and on_its_own:
        new_count = None
        with connection.cursor() as cursor:
            if counter is not None:
                cursor.execute(_COUNT_PG_NO_FLUSH_WAIT, counter)
                new_count = cursor.fetchone()[0]
                if new_count is None:
                    raise rate_limited(grant, now)
            if not subject_hashes:
                cursor.execute(_INSERT_ACCESS_PG, values)
                access_id = cursor.fetchone()[0]
        if subject_hashes:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(_INSERT_ACCESS_PG, values)
                (access_id,) = cursor.fetchone()
                _insert_subjects(cursor, access_id, subject_hashes)
    else:  # inside the caller's transaction (a savepoint), or SQLite with several subjects
        new_count = None
        with transaction.atomic(), connection.cursor() as cursor:
            if counter is not None:
                cursor.execute(_UPSERT_WINDOW, counter)
                row = cursor.fetchone()
                if row is None:
                    raise rate_limited(grant, now)  # rolls back: nothing was served
                new_count = row[0]
            cursor.execute(_INSERT_ACCESS_PG if vendor == "postgresql" else _INSERT_ACCESS_SQLITE, values)
            (access_id,) = cursor.fetchone()
            if subject_hashes:
                _insert_subjects(cursor, access_id, subject_hashes)
    if new_count == _LIMITED:
        raise rate_limited(grant, now)
    if new_count is not None and size > 1:
        _keep_lease(grant, minute, size, new_count)
    return access_id


_LIMITED = -1
_BEGIN_POLL_SECONDS = 0.0005


def _begin_immediate(raw) -> None:
    """``BEGIN IMMEDIATE``, waiting for the write lock in half-millisecond steps.

    SQLite's own busy handler sleeps 1, 2, 5, 10, … ms between tries, so a request that finds
    the lock held for 4 ms (the sequencer sealing a batch) waits 8; polling keeps the wait
    close to the hold. The connection's busy timeout is restored before any other statement.
    """
    timeout = float(connection.settings_dict.get("OPTIONS", {}).get("timeout", 5))
    raw.execute("PRAGMA busy_timeout = 0")
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error) or time.monotonic() > deadline:
                    raise
            time.sleep(_BEGIN_POLL_SECONDS)
    finally:
        raw.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
_UPSERT_WINDOW_QMARK = _UPSERT_WINDOW.replace("%s", "?")
_INSERT_ACCESS_QMARK = _INSERT_ACCESS_SQLITE.replace("%s", "?")


def _record_sqlite_raw(counter: list | None, values: list) -> tuple[int | None, int | None]:
    """SQLite outside any transaction: ``BEGIN IMMEDIATE``, the statements, ``COMMIT``, on the
    driver's connection (Django's atomic() and cursor wrappers cost more than the writes).
    Returns (access id, new count); (None, _LIMITED) when the limit is reached (rolled back)."""
    raw = _raw_sqlite()
    new_count = None
    with connection.wrap_database_errors:
        _begin_immediate(raw)
        try:
            if counter is not None:
                row = raw.execute(_UPSERT_WINDOW_QMARK, counter).fetchone()
                if row is None:
                    raw.rollback()
                    return None, _LIMITED
                new_count = row[0]
            (access_id,) = raw.execute(_INSERT_ACCESS_QMARK, values).fetchone()
            raw.commit()
        except BaseException:
            if raw.in_transaction:
                raw.rollback()
            raise
    return access_id, new_count


def count_request(grant: GrantView, now: float | None = None) -> None:
    """Only the rate-limit counter (a request that read nothing about anyone)."""
    now = time.time() if now is None else now
    minute = int(now // 60)
    size = lease_size(grant.rate_limit)
    if size > 1 and _leased(grant, minute):
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_UPSERT_WINDOW, [grant.id, minute, size, size, grant.rate_limit])
        row = cursor.fetchone()
        if row is None:
            raise rate_limited(grant, now)
    if size > 1:
        _keep_lease(grant, minute, size, row[0])


def _subject_fields(hashes: list[str]) -> dict:
    """One subject: on the access row itself; several: AccessSubject rows."""
    if len(hashes) == 1:
        return {"subject_hash": hashes[0], "subject_count": 1}
    return {"subject_hashes": hashes, "subject_count": len(hashes)}


# --- one subject: read and log ---------------------------------------------------------------------------


def _read_and_log(actor: Actor, grant: GrantView, code: str, subject: str, mode: str, items_json_of,
                  now: float) -> tuple[Actor, GrantView, dict | None]:
    """The subject's record (or None), the access logged: the single-subject hot path.

    ``items_json_of(grant)`` names the items the access concerns (the grant may change if the
    generation moved and the caller and grant had to be re-checked).
    """
    hashed = subject_hash(subject)
    if connection.vendor == "postgresql" and connection.get_autocommit() and not connection.in_atomic_block:
        outcome = _read_and_log_pg(actor, grant, code, subject, mode, items_json_of(grant), hashed, now)
        if outcome is not None:
            generation, data, logged = outcome
            if not logged:  # the generation moved: re-check, then log (the request was counted)
                actor, grant = _after_read(actor, grant, code, mode, generation, now)
                record_access(actor, grant, mode, items_json=items_json_of(grant), subject_hash=hashed,
                              subject_count=1, found=0 if data is None else 1, now=now, counted=True)
            return actor, grant, data
    generation, data = _read_one(code, subject)
    actor, grant = _after_read(actor, grant, code, mode, generation, now)
    record_access(actor, grant, mode, items_json=items_json_of(grant), subject_hash=hashed, subject_count=1,
                  found=0 if data is None else 1, now=now)
    return actor, grant, data


_EXPLICIT_ONLY = 2**31 - 1


def _prepared_statements(raw) -> bool:
    """Whether the hot path may use server-side prepared statements on this connection.

    Django turns psycopg's prepared statements off (``prepare_threshold=None``) since a
    transaction-pooling PgBouncer cannot keep them; ``TONGBAN_EXCHANGE_PG_PREPARE = False``
    keeps them off for such deployments. Otherwise the threshold is set so high that only the
    statements executed with ``prepare=True`` (these) are prepared: Django's own (client-side
    binding) cursors are unaffected.
    """
    if not getattr(settings, "TONGBAN_EXCHANGE_PG_PREPARE", True):
        return False
    if raw.prepare_threshold is None:
        raw.prepare_threshold = _EXPLICIT_ONLY
    return True


def _read_and_log_pg(actor: Actor, grant: GrantView, code: str, subject: str, mode: str, items_json: str,
                     hashed: str, now: float) -> tuple[int | None, dict | None, bool] | None:
    """PostgreSQL outside any transaction, on the driver's connection: the counter if no lease is
    left, then ``_READ_AND_LOG_PG`` — one round trip in the common case, and no health-check query
    (a connection found broken is closed and None returned: the caller takes the ordinary path,
    which reconnects)."""
    minute = int(now // 60)
    if grant.rate_limit < 1:
        raise rate_limited(grant, now)
    size = lease_size(grant.rate_limit)
    expected = authz.seen_generation()
    at = datetime.datetime.fromtimestamp(now, datetime.UTC)
    connection.ensure_connection()
    database = connection.Database
    new_count = None
    try:
        # A server-side-binding cursor, so that PostgreSQL keeps the plans of these two statements
        # per connection (prepare=True) instead of planning them on every request: planning the
        # read-and-log statement costs more than running it (measured ~170 µs of ~325).
        raw = connection.connection
        prepare = _prepared_statements(raw)
        with connection.wrap_database_errors, database.Cursor(raw) as cursor:
            if not (size > 1 and _leased(grant, minute)):
                cursor.execute(_COUNT_PG_NO_FLUSH_WAIT, [grant.id, minute, size, size, grant.rate_limit],
                               prepare=prepare)
                new_count = cursor.fetchone()[0]
                if new_count is None:
                    raise rate_limited(grant, now)
            cursor.execute(_READ_AND_LOG_PG, [
                generations.ACCESS, code, subject, at, grant.id, grant.resource_code, actor.department_code or "",
                actor.username[:150], mode, items_json, grant.purpose, hashed, -1 if expected is None else expected,
            ], prepare=prepare)
            generation, data, access_id = cursor.fetchone()
    except (database.OperationalError, database.InterfaceError):
        connection.close()
        return None
    except (InterfaceError, OperationalError):  # the same, as wrapped by Django
        connection.close()
        return None
    if new_count is not None and size > 1:
        _keep_lease(grant, minute, size, new_count)
    return generation, _json(data), access_id is not None


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
    stored values. An unknown subject answers ``no_match`` for every item (existence is not
    revealed)."""
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

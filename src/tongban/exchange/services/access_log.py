"""The consuming hot path's write: the rate-limit counter and the ``Access`` row (part of ``access``).

One short write per request: the rate-limit counter (``RateWindow`` upsert per grant per
minute, taken in leases for high limits, see ``LEASE_WRITES_PER_MINUTE``; at the limit → 429
and nothing logged) and the ``Access`` row (plus ``AccessSubject`` rows for several subjects),
committed before the answer is returned: no answered access is ever lost. SQLite appends a
single-subject access with no counter to write to the access queue file (``access_queue``,
moved into ``Access`` by the sequencer), and otherwise writes in one short ``BEGIN IMMEDIATE``
transaction on the driver's connection; PostgreSQL commits the counter
without waiting for the WAL flush (``_COUNT_PG_NO_FLUSH_WAIT``) and the access row durably.
Inside an outer transaction the write becomes a savepoint. Subjects are logged by keyed hash
only (``subject_hash``).
"""

from __future__ import annotations

import datetime
import time

from django.conf import settings
from django.db import connection, transaction

from tongban.core.errors import RateLimited
from tongban.core.writeturns import write_turn
from tongban.exchange.services import access_queue, authz
from tongban.exchange.services.authz import GrantView
from tongban.identity.access import Actor
from tongban.ledger import keystore
from tongban.ledger.canonical import keyed_subject_hash

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


def rate_limited(grant: GrantView, now: float) -> RateLimited:
    retry_after = max(1, 60 - int(now) % 60)
    return RateLimited(
        f"超过授权的调用频率（每分钟 {grant.rate_limit} 次），请 {retry_after} 秒后重试",
        f"Over the grant's rate limit ({grant.rate_limit} per minute); retry in {retry_after} s",
        code="rate_limited", details={"retry_after": retry_after, "limit_per_minute": grant.rate_limit},
    )



def _raw_sqlite():
    """The driver's connection (the hot path skips Django's cursor wrappers on SQLite)."""
    connection.ensure_connection()
    return connection.connection


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
    """Count the request against the grant's rate limit and log the access; returns its id (for
    an access queued on SQLite, its id in the queue: ``Access`` numbers it when it is moved).

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
        queue = access_queue.queue_path(connection) if counter is None else None
        if queue is not None:  # the common case under load: see access_queue
            with connection.wrap_database_errors:
                return access_queue.enqueue(queue, values)
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
_UPSERT_WINDOW_QMARK = _UPSERT_WINDOW.replace("%s", "?")
_INSERT_ACCESS_QMARK = _INSERT_ACCESS_SQLITE.replace("%s", "?")


def _record_sqlite_raw(counter: list | None, values: list) -> tuple[int | None, int | None]:
    """SQLite outside any transaction: ``BEGIN IMMEDIATE``, the statements, ``COMMIT``, on the
    driver's connection (Django's atomic() and cursor wrappers cost more than the writes).
    Returns (access id, new count); (None, _LIMITED) when the limit is reached (rolled back)."""
    raw = _raw_sqlite()
    new_count = None
    # The turn (core.writeturns) orders this write after the other workers' and the
    # sequencer's, handed over by the kernel; BEGIN IMMEDIATE then normally finds SQLite's lock
    # free, and waits in SQLite's busy handler only for a writer that takes no turns.
    with connection.wrap_database_errors, write_turn(connection):
        raw.execute("BEGIN IMMEDIATE")
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

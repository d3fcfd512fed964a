"""The consuming hot path's reads: authorization with the generation check, and one subject's
record read and its access logged (part of ``access``).

Reads happen outside any transaction: the grant and the resource view from per-process caches,
then the record together with the access generation in ONE statement; a moved generation drops
the caches and re-checks the caller and grant. PostgreSQL does the read and the access row in
ONE statement (``_READ_AND_LOG_PG``: one round trip, the row written only if the generation is
the one the caches were checked against); otherwise the write is ``access_log.record_access``.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

from tongban.core import generations
from tongban.core.errors import NotFound, PermissionDenied
from tongban.exchange.services import authz
from tongban.exchange.services.access_log import (
    _COUNT_PG_NO_FLUSH_WAIT,
    _keep_lease,
    _leased,
    _raw_sqlite,
    lease_size,
    rate_limited,
    record_access,
    subject_hash,
)
from tongban.exchange.services.authz import GrantView, ResourceView
from tongban.identity.access import Actor

_READ_ONE = (
    "SELECT (SELECT value FROM core_generation WHERE name = %s), "
    "(SELECT data FROM exchange_record WHERE resource_code = %s AND subject = %s)"
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


def record_not_found() -> NotFound:
    return NotFound("该资源中没有此主体的记录", "No record of this subject in the resource", code="record_not_found")


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

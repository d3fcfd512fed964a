"""The shape of the hot path: with warm caches a query is one read statement (record and access
generation together) plus the short write; no token, grant or catalog query; and no answer
without its stored access."""

from __future__ import annotations

import contextlib
import time

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from tests.exchange.factories_access import (
    _fresh_caches,  # noqa: F401 - autouse fixture
    consumer_env,
    id_number,
    revoke,
)
from tongban.core.errors import PermissionDenied, RateLimited
from tongban.exchange.models import Access, RateWindow
from tongban.exchange.services import access, access_log
from tongban.identity import tokens

pytestmark = pytest.mark.django_db

IGNORED = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN", "COMMIT", "ROLLBACK")


@contextlib.contextmanager
def all_statements():
    """Every statement sent to the database, including those the hot path runs on the driver's
    connection directly (SQLite's trace callback sees them; on PostgreSQL all go through Django)."""
    seen: list[str] = []
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        connection.connection.set_trace_callback(seen.append)
        try:
            yield seen
        finally:
            connection.connection.set_trace_callback(None)
    else:
        with CaptureQueriesContext(connection) as context:
            yield seen
        seen.extend(q["sql"] for q in context.captured_queries)
    seen[:] = [sql for sql in seen if not sql.lstrip().upper().startswith(IGNORED)]


def test_warm_query_is_one_read_and_one_short_write(client):
    env = consumer_env()
    url = f"/api/v1/exchange/resources/{env.code}/records/{id_number(1)}"
    headers = {"HTTP_AUTHORIZATION": f"Bearer {env.token}"}
    assert client.get(url, **headers).status_code == 200  # first: caches filled
    assert client.get(url, **headers).status_code == 200  # the token cache refills after the first generation read
    with all_statements() as sql:
        assert client.get(url, **headers).status_code == 200
    reads = [s for s in sql if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1 and "core_generation" in reads[0] and "exchange_record" in reads[0]
    for table in ("identity_accesstoken", "exchange_grant", "catalog_", "auth_user", "django_session"):
        assert not any(table in s for s in sql), (table, sql)
    writes = [s for s in sql if s not in reads]
    assert len(writes) == 2, sql  # the rate-limit counter and the access row
    assert all("exchange_ratewindow" in s or "exchange_access" in s for s in writes)
    assert Access.objects.count() == 3


def test_a_new_generation_rechecks_everything_once():
    env = consumer_env()
    actor = tokens.cached_actor_for_bearer(env.token)
    access.query(actor, env.code, id_number(1))
    from tongban.core import generations

    generations.bump()
    with all_statements() as seen:
        access.query(actor, env.code, id_number(1))
    sql = " ".join(seen)
    assert "identity_accesstoken" in sql and "exchange_grant" in sql  # re-read after the bump
    with all_statements() as seen:
        access.query(actor, env.code, id_number(2))
    sql = " ".join(seen)
    assert "identity_accesstoken" not in sql and "exchange_grant" not in sql  # and cached again


def test_no_answer_without_its_stored_access(monkeypatch):
    env = consumer_env()
    access.query(env.clerk, env.code, id_number(1))
    monkeypatch.setattr(access_log, "_INSERT_ACCESS_SQLITE", "INSERT INTO no_such_table VALUES (%s) RETURNING id")
    monkeypatch.setattr(access_log, "_INSERT_ACCESS_PG", "INSERT INTO no_such_table VALUES (%s) RETURNING id")
    from django.db import transaction

    with pytest.raises(DatabaseError), transaction.atomic():
        access.query(env.clerk, env.code, id_number(2))
    assert Access.objects.count() == 1


@pytest.mark.django_db(transaction=True)  # conftest reloads the migrations' reference data after a flush
def test_outside_a_transaction_the_write_commits_on_its_own_and_429_rolls_back():
    env = consumer_env(rate=2)
    now = (int(time.time()) // 60 + 1) * 60 + 5.0
    access.query(env.clerk, env.code, id_number(1), now=now)
    access.query(env.clerk, env.code, id_number(2), now=now)
    assert not connection.in_atomic_block and connection.get_autocommit()
    with pytest.raises(RateLimited):
        access.query(env.clerk, env.code, id_number(3), now=now)
    assert connection.get_autocommit() and not connection.in_atomic_block  # nothing left open
    assert Access.objects.count() == 2
    assert RateWindow.objects.get(grant=env.grant).count == 2  # the refused request was not counted


@pytest.mark.django_db(transaction=True)  # conftest reloads the migrations' reference data after a flush
def test_outside_a_transaction_a_moved_generation_is_rechecked_and_logged_once():
    env = consumer_env()
    actor = tokens.cached_actor_for_bearer(env.token)
    access.query(actor, env.code, id_number(1))
    from tongban.core import generations

    generations.bump()  # e.g. another grant changed: this one still holds
    assert access.query(actor, env.code, id_number(2))["grant"] == env.grant.pk
    assert Access.objects.count() == 2
    revoke(env.grant)
    with pytest.raises(PermissionDenied) as caught:
        access.query(actor, env.code, id_number(3))
    assert caught.value.code == "grant_revoked"
    assert Access.objects.count() == 2  # the refused request left no access


@pytest.mark.django_db(transaction=True)  # conftest reloads the migrations' reference data after a flush
def test_a_broken_connection_falls_back_and_reconnects():
    if connection.vendor != "postgresql":
        pytest.skip("a database server that goes away is PostgreSQL's case; SQLite is a file")
    env = consumer_env()
    access.query(env.clerk, env.code, id_number(1))
    connection.ensure_connection()
    connection.connection.close()  # the server went away between requests
    assert access.query(env.clerk, env.code, id_number(2))["record"]
    assert Access.objects.count() == 2


@pytest.mark.django_db(transaction=True)  # conftest reloads the migrations' reference data after a flush
def test_on_sqlite_the_access_row_is_written_during_a_write_turn(monkeypatch):
    # core.writeturns orders the frequent SQLite writers (this write, the sequencer's) with a
    # kernel lock; the write must begin and commit inside the turn, and nothing else be written.
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL needs no turns")
    env = consumer_env()
    access.query(env.clerk, env.code, id_number(1))
    connection.ensure_connection()
    written_in_turn: list[str] = []
    holding = [False]
    original = access_log.write_turn

    class Spy(original):
        def __enter__(self):
            holding[0] = super().__enter__()
            return holding[0]

        def __exit__(self, *exc):
            holding[0] = False
            return super().__exit__(*exc)

    def trace(sql):
        if sql.lstrip().upper().startswith(("BEGIN", "INSERT", "COMMIT")):
            written_in_turn.append((holding[0], sql.split()[0].upper()))

    monkeypatch.setattr(access_log, "write_turn", Spy)
    connection.connection.set_trace_callback(trace)
    try:
        access.query(env.clerk, env.code, id_number(2))
    finally:
        connection.connection.set_trace_callback(None)
    # BEGIN, the rate-limit counter and the access row, COMMIT: all inside the turn
    assert [verb for _, verb in written_in_turn] == ["BEGIN", "INSERT", "INSERT", "COMMIT"]
    assert all(held for held, _ in written_in_turn)

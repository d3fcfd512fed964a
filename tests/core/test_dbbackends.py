"""The PostgreSQL backend's health check (``core.dbbackends.postgresql``): it sees a connection
the server has ended, and it sends nothing to the server to find out."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection, connections

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the health check is the PostgreSQL backend's; SQLite is a file")


def _admin():
    settings = connection.settings_dict
    return psycopg.connect(host=settings["HOST"] or None, port=settings["PORT"] or None,
                           user=settings["USER"] or None, password=settings["PASSWORD"] or None,
                           dbname=settings["NAME"], autocommit=True)


def test_the_backend_is_ours_and_checks_health():
    assert type(connections["default"]).__module__ == "tongban.core.dbbackends.postgresql.base"
    assert connection.health_check_enabled


def test_a_live_connection_is_usable_and_nothing_is_sent(monkeypatch):
    connection.ensure_connection()
    raw = connection.connection

    def no_query(*args, **kwargs):
        raise AssertionError("the health check sent a query")

    monkeypatch.setattr(raw, "cursor", no_query)
    monkeypatch.setattr(raw, "execute", no_query)
    assert connection.is_usable()


def test_a_connection_the_server_ended_is_not_usable_and_is_replaced():
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    with _admin() as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
    deadline = time.monotonic() + 5
    while connection.is_usable():  # the server's notice and the close arrive within moments
        assert time.monotonic() < deadline, "a terminated connection still looks usable"
        time.sleep(0.05)
    # What Django does before a request's first query: the dead connection is closed, and the
    # query runs on a new one instead of failing.
    connection.health_check_done = False
    connection.close_if_health_check_failed()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid

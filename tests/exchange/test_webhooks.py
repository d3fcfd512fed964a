"""Webhook push: a real local HTTP server receives signed, masked changes; failures are retried on
the back-off schedule (by the periodic sweep, never recursively) and finally given up."""

from __future__ import annotations

import datetime
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from tests.exchange.factories import official, person_row
from tests.exchange.factories_access import (
    _fresh_caches,  # noqa: F401 - autouse fixture
    consumer_env,
    load,
    revoke,
)
from tongban.core.errors import InvalidInput, PermissionDenied
from tongban.exchange.models import Access, AccessSubject, Grant, WebhookDelivery
from tongban.exchange.services import webhooks
from tongban.ledger.models import LedgerEvent

pytestmark = pytest.mark.django_db
SECRET = "s3cret-for-tests"


class Receiver:
    """A local HTTP server answering ``status`` and remembering what it was sent."""

    def __init__(self, status: int = 200):
        self.status = status
        self.received: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/tongban?x=1"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def _local_receivers_allowed(settings):
    """These tests push to a server on 127.0.0.1, which the default settings refuse (see
    test_review_fixes.py for the refusals)."""
    settings.TONGBAN_WEBHOOK_ALLOW_PRIVATE = True


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def schedule(code, capture):
    with capture(execute=True):
        webhooks.schedule_for_resource(code)


def test_changes_are_pushed_signed_and_masked(receiver, django_capture_on_commit_callbacks):
    env = consumer_env(records=2, items=["name", "phone"], clear=["phone"], webhook_url=receiver.url)
    schedule(env.code, django_capture_on_commit_callbacks)
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    assert webhooks.verify_signature(SECRET, headers["X-Tongban-Signature"], body)
    assert not webhooks.verify_signature("another-secret", headers["X-Tongban-Signature"], body)
    assert not webhooks.verify_signature(SECRET, headers["X-Tongban-Signature"], body + b" ")
    payload = json.loads(body)
    delivery = WebhookDelivery.objects.get()
    assert headers["X-Tongban-Delivery"] == str(delivery.pk)
    assert payload["from"] == 1 and payload["to"] == 2 and payload["grant"] == env.grant.pk
    assert [c["record"] for c in payload["changes"]] == [{"name": "张*", "phone": "13800000001"},
                                                         {"name": "张*", "phone": "13800000002"}]
    assert delivery.status == "delivered" and delivery.attempts == 1
    assert Grant.objects.get(pk=env.grant.pk).webhook_cursor == 2
    push = Access.objects.get(mode="push")
    assert push.subject_count == 2 and push.found == 2 and AccessSubject.objects.filter(access=push).count() == 2

    load(env.code, [person_row(3)])
    schedule(env.code, django_capture_on_commit_callbacks)
    assert len(receiver.received) == 2
    assert [c["seq"] for c in json.loads(receiver.received[1][1])["changes"]] == [3]
    assert Grant.objects.get(pk=env.grant.pk).webhook_cursor == 3
    schedule(env.code, django_capture_on_commit_callbacks)  # nothing new: nothing sent
    assert len(receiver.received) == 2


def test_signature_header_format():
    header = webhooks.sign("k", 1700000000, b'{"a":1}')
    assert header.startswith("t=1700000000,v1=") and len(header.split("v1=")[1]) == 64
    assert webhooks.verify_signature("k", header, b'{"a":1}', now=1700000100)
    assert not webhooks.verify_signature("k", header, b'{"a":1}', now=1700001000)  # too old


def test_failures_are_retried_on_the_back_off_schedule_then_given_up(django_capture_on_commit_callbacks):
    failing = Receiver(status=500)
    try:
        env = consumer_env(records=1, webhook_url=failing.url)
        schedule(env.code, django_capture_on_commit_callbacks)
        delivery = WebhookDelivery.objects.get()
        assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 1, "HTTP 500")
        clock = delivery.next_attempt_at
        first_try = clock - datetime.timedelta(seconds=10)
        assert abs((first_try - timezone.now()).total_seconds()) < 5  # the first retry is 10 s after the try
        gaps = []
        for _ in range(5):
            assert webhooks.retry_due_deliveries(clock - datetime.timedelta(seconds=1)) == 0  # not yet due
            assert webhooks.retry_due_deliveries(clock) == 1
            delivery.refresh_from_db()
            if delivery.status != "pending":
                break
            gaps.append(int((delivery.next_attempt_at - clock).total_seconds()))
            clock = delivery.next_attempt_at
        assert gaps == [60, 300, 1800, 7200]
        assert delivery.status == "failed" and delivery.attempts == webhooks.MAX_ATTEMPTS == 6
        assert len(failing.received) == 6
        assert Grant.objects.get(pk=env.grant.pk).webhook_cursor == 0  # never advanced
        assert Access.objects.filter(mode="push").count() == 6  # every attempt sent data out
        assert webhooks.retry_due_deliveries(clock + datetime.timedelta(days=1)) == 0
    finally:
        failing.close()


def test_network_errors_are_retried_too(django_capture_on_commit_callbacks):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: connection refused
    env = consumer_env(records=1, webhook_url=f"http://127.0.0.1:{port}/hook")
    schedule(env.code, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and "ConnectionRefused" in delivery.last_error
    assert Grant.objects.get(pk=env.grant.pk).webhook_cursor == 0


def test_no_push_after_revocation(receiver, django_capture_on_commit_callbacks):
    failing = Receiver(status=503)
    try:
        env = consumer_env(records=1, webhook_url=failing.url)
        schedule(env.code, django_capture_on_commit_callbacks)
        revoke(env.grant)
        delivery = WebhookDelivery.objects.get()
        assert webhooks.retry_due_deliveries(delivery.next_attempt_at) == 1
        delivery.refresh_from_db()
        assert delivery.status == "failed" and len(failing.received) == 1
    finally:
        failing.close()


def test_only_subscribe_grants_with_a_url_and_one_delivery_in_flight(receiver, django_capture_on_commit_callbacks):
    env = consumer_env(records=1, modes=["query"], webhook_url=receiver.url)
    schedule(env.code, django_capture_on_commit_callbacks)
    assert not WebhookDelivery.objects.exists()
    slow = Receiver(status=500)
    try:
        env2 = consumer_env(provider="civil2", consumer="health2", records=1, webhook_url=slow.url)
        schedule(env2.code, django_capture_on_commit_callbacks)
        load(env2.code, [person_row(5)])
        schedule(env2.code, django_capture_on_commit_callbacks)
        assert WebhookDelivery.objects.filter(grant=env2.grant).count() == 1  # the pending one covers it
    finally:
        slow.close()


def test_set_webhook_records_a_ledger_entry_and_checks_the_url():
    env = consumer_env(records=1)
    steward = official("health", "steward")
    answer = webhooks.set_webhook(steward, env.grant.pk, "http://10.0.0.5:8080/hook")
    assert answer["cursor"] == 1 and answer["secret"]
    assert LedgerEvent.objects.filter(action="exchange.webhook_set").count() == 1
    for bad in ("javascript:alert(1)", "file:///etc/passwd", "http://user:pw@host/", "http:///nohost"):
        with pytest.raises(InvalidInput):
            webhooks.set_webhook(steward, env.grant.pk, bad)
    with pytest.raises(PermissionDenied):
        webhooks.set_webhook(official("health", "clerk"), env.grant.pk, "https://x.example/")

"""Review fixes: webhook SSRF (addresses vetted when set and at every attempt, the connection
pinned to the vetted address, no redirects), the push's access logged before the data leaves,
verify refusing claims on the subject key, and sealing quarantining an unsealable access."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection
from django.utils import timezone

from tests.exchange.factories import official
from tests.exchange.factories_access import (
    _fresh_caches,  # noqa: F401 - autouse fixture
    consumer_env,
    id_number,
)
from tongban.core.errors import InvalidInput
from tongban.exchange.models import Access, WebhookDelivery
from tongban.exchange.services import access, sealing, webhooks
from tongban.ledger import services as ledger
from tongban.ledger.models import LedgerEvent

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.215.14"


class Receiver:
    """A local HTTP server answering ``status`` (plus ``headers``) and remembering requests."""

    def __init__(self, status: int = 200, headers: dict[str, str] | None = None):
        self.received: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST  # noqa: N815 - a followed redirect would show here

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


class Resolver:
    """Stands in for DNS: ``answers[host]`` is the list of addresses (changeable mid-test)."""

    def __init__(self, **answers: list[str]):
        self.answers = {host.replace("_", "."): addresses for host, addresses in answers.items()}
        self.calls: list[str] = []

    def __call__(self, host, port, **_kw):
        self.calls.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in self.answers[host]]


def _pushes(capture, code):
    with capture(execute=True):
        webhooks.schedule_for_resource(code)


# --- 1. SSRF: refused when set ---------------------------------------------------------------------------

BLOCKED_LITERALS = [
    "127.0.0.1", "127.8.9.10",  # loopback
    "10.0.0.1", "172.16.0.1", "192.168.1.1",  # private
    "169.254.169.254",  # link-local (cloud metadata)
    "100.64.0.1",  # shared address space (carrier NAT)
    "224.0.0.1", "239.255.255.250",  # multicast
    "240.0.0.1", "255.255.255.255",  # reserved / broadcast
    "0.0.0.0",  # unspecified  # noqa: S104
    "[::1]", "[::]", "[fe80::1]", "[fc00::1]", "[fd12:3456::1]", "[ff02::1]",  # IPv6 classes
    "[::ffff:127.0.0.1]", "[::ffff:169.254.169.254]", "[::ffff:10.0.0.1]",  # IPv4-mapped
    "[2002:7f00:1::1]",  # 6to4 of 127.0.0.1
    "[64:ff9b::a9fe:a9fe]",  # NAT64 of 169.254.169.254
]


@pytest.mark.parametrize("host", BLOCKED_LITERALS)
def test_every_blocked_address_class_is_refused_when_the_url_is_set(host):
    env = consumer_env(records=1)
    steward = official("health", "steward")
    with pytest.raises(InvalidInput) as refused:
        webhooks.set_webhook(steward, env.grant.pk, f"http://{host}:5432/admin")
    assert refused.value.code == "webhook_url_not_allowed"
    assert env.grant.__class__.objects.get(pk=env.grant.pk).webhook_url == ""


def test_names_are_resolved_and_every_address_must_be_public(monkeypatch):
    env = consumer_env(records=1)
    steward = official("health", "steward")
    resolver = Resolver(inner_example=["10.1.2.3"], mixed_example=[PUBLIC, "127.0.0.1"],
                        six_example=[PUBLIC, "::1"], good_example=[PUBLIC, "2606:2800:220:1::1"])
    monkeypatch.setattr(webhooks, "_getaddrinfo", resolver)
    for url in ("https://inner.example/hook", "https://mixed.example/hook", "https://six.example/hook",
                "https://nowhere.example/hook"):
        with pytest.raises(InvalidInput) as refused:
            webhooks.set_webhook(steward, env.grant.pk, url)
        assert refused.value.code == "webhook_url_not_allowed", url
    assert refused.value.details["reason"] == "unresolvable"
    answer = webhooks.set_webhook(steward, env.grant.pk, "https://good.example/hook")
    assert answer["url"] == "https://good.example/hook" and answer["secret"]


def test_localhost_by_name_is_refused_with_the_real_resolver():
    env = consumer_env(records=1)
    with pytest.raises(InvalidInput) as refused:
        webhooks.set_webhook(official("health", "steward"), env.grant.pk, "http://localhost:5432/")
    assert refused.value.code == "webhook_url_not_allowed"


def test_refusal_over_http_is_422_with_the_code(client):
    env = consumer_env(records=1)
    response = client.post(f"/api/v1/exchange/grants/{env.grant.pk}/webhook",
                           {"url": "http://169.254.169.254/latest/meta-data/"}, content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {env.token}")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "webhook_url_not_allowed"


def test_address_allowed_only_for_global_unicast():
    assert webhooks.address_allowed("8.8.8.8") and webhooks.address_allowed("2606:2800:220:1::1")
    for address in ("127.0.0.1", "::ffff:127.0.0.1", "fe80::1%eth0", "not-an-ip", "192.0.2.1"):
        assert not webhooks.address_allowed(address), address


def test_the_setting_lets_private_addresses_through(settings):
    settings.TONGBAN_WEBHOOK_ALLOW_PRIVATE = True
    env = consumer_env(records=1)
    answer = webhooks.set_webhook(official("health", "steward"), env.grant.pk, "http://10.0.0.5:8080/hook")
    assert answer["url"] == "http://10.0.0.5:8080/hook"


# --- 1. SSRF: vetted again at every attempt, connection pinned --------------------------------------------


def test_a_private_target_is_not_contacted_at_attempt_time(receiver, django_capture_on_commit_callbacks):
    env = consumer_env(records=1, webhook_url=receiver.url)  # written directly: as if set before the fix
    _pushes(django_capture_on_commit_callbacks, env.code)
    delivery = WebhookDelivery.objects.get()
    assert receiver.received == []
    assert delivery.status == "pending" and delivery.last_error.startswith("webhook_url_not_allowed")
    assert not Access.objects.filter(mode="push").exists()  # nothing left the platform


def test_dns_rebinding_after_the_check_is_refused(receiver, monkeypatch, django_capture_on_commit_callbacks):
    env = consumer_env(records=1)
    resolver = Resolver(hooks_consumer_example=[PUBLIC])
    monkeypatch.setattr(webhooks, "_getaddrinfo", resolver)
    webhooks.set_webhook(official("health", "steward"), env.grant.pk,
                         f"http://hooks.consumer.example:{receiver.port}/hook", since=0)
    resolver.answers["hooks.consumer.example"] = ["127.0.0.1"]  # the name now points inside
    _pushes(django_capture_on_commit_callbacks, env.code)
    assert receiver.received == []
    assert WebhookDelivery.objects.get().last_error == "webhook_url_not_allowed: address_not_allowed"


def test_the_connection_goes_to_the_vetted_address_with_the_original_host(
        receiver, monkeypatch, settings, django_capture_on_commit_callbacks):
    settings.TONGBAN_WEBHOOK_ALLOW_PRIVATE = True  # the receiver is local
    env = consumer_env(records=1)
    resolver = Resolver(hooks_consumer_example=["127.0.0.1"])  # only this stand-in knows the name
    monkeypatch.setattr(webhooks, "_getaddrinfo", resolver)
    webhooks.set_webhook(official("health", "steward"), env.grant.pk,
                         f"http://hooks.consumer.example:{receiver.port}/hook", since=0)
    _pushes(django_capture_on_commit_callbacks, env.code)
    assert WebhookDelivery.objects.get().status == "delivered"
    headers, _body = receiver.received[0]
    assert headers["Host"] == f"hooks.consumer.example:{receiver.port}"
    assert resolver.calls == ["hooks.consumer.example"] * 2  # when set, and at the attempt


def test_redirects_are_not_followed(settings, django_capture_on_commit_callbacks):
    settings.TONGBAN_WEBHOOK_ALLOW_PRIVATE = True
    target = Receiver()
    redirecting = Receiver(status=302, headers={"Location": target.url})
    try:
        env = consumer_env(records=1, webhook_url=redirecting.url)
        _pushes(django_capture_on_commit_callbacks, env.code)
        delivery = WebhookDelivery.objects.get()
        assert (delivery.status, delivery.last_error) == ("pending", "HTTP 302")
        assert len(redirecting.received) == 1 and target.received == []
    finally:
        target.close()
        redirecting.close()


# --- 2. the push's access is logged before the data leaves ------------------------------------------------


def test_the_access_row_is_written_before_the_post_and_kept_when_it_fails(settings, monkeypatch):
    settings.TONGBAN_WEBHOOK_ALLOW_PRIVATE = True
    env = consumer_env(records=2, webhook_url="http://127.0.0.1:9/hook")
    seen = []

    def crashing_post(url, address, body, headers):
        seen.append((Access.objects.filter(mode="push").count(), connection.in_atomic_block))
        raise RuntimeError("worker killed mid-send")

    monkeypatch.setattr(webhooks, "_post", crashing_post)
    delivery = WebhookDelivery.objects.create(grant=env.grant, from_seq=1, to_seq=2, next_attempt_at=timezone.now())
    with pytest.raises(RuntimeError):
        webhooks.attempt(delivery.pk)
    assert seen[0][0] == 1  # the row existed when the data was handed to the network
    push = Access.objects.get(mode="push")  # and stays though the attempt crashed
    assert push.subject_count == 2 and push.actor.startswith("webhook:")


@pytest.mark.django_db(transaction=True)
def test_the_access_row_is_committed_before_the_post(settings, monkeypatch):
    settings.TONGBAN_WEBHOOK_ALLOW_PRIVATE = True
    env = consumer_env(records=1, webhook_url="http://127.0.0.1:9/hook")
    seen = []

    def refusing_post(url, address, body, headers):
        seen.append((Access.objects.filter(mode="push").count(), connection.in_atomic_block))
        raise ConnectionRefusedError("refused")

    monkeypatch.setattr(webhooks, "_post", refusing_post)
    delivery = WebhookDelivery.objects.create(grant=env.grant, from_seq=1, to_seq=1, next_attempt_at=timezone.now())
    assert webhooks.attempt(delivery.pk) == "pending"
    assert seen == [(1, False)]  # outside any transaction: the row was committed
    assert Access.objects.filter(mode="push").count() == 1


# --- 3. verify does not reveal existence ------------------------------------------------------------------


def test_a_claim_on_the_subject_key_is_refused_whether_or_not_the_subject_exists(client):
    env = consumer_env(records=1)
    for n in (1, 99):  # 1 has a record, 99 has none: the same refusal
        with pytest.raises(InvalidInput) as refused:
            access.verify(env.clerk, env.code, id_number(n), {"id_number": id_number(n)})
        assert refused.value.code == "subject_key_claim"
        response = client.post(f"/api/v1/exchange/resources/{env.code}/verify",
                               {"subject": id_number(n), "claims": {"id_number": id_number(n), "name": "张1"}},
                               content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {env.token}")
        assert response.status_code == 422 and response.json()["error"]["code"] == "subject_key_claim"
    assert not Access.objects.exists()  # refused before anything was read
    assert access.verify(env.clerk, env.code, id_number(99), {"name": "张1"})["results"] == {"name": "no_match"}


# --- 4. sealing quarantines an unsealable access ----------------------------------------------------------


def test_an_unsealable_access_is_sealed_redacted_and_the_queue_moves_on(caplog):
    env = consumer_env()
    access.query(env.clerk, env.code, id_number(1))
    bad = Access.objects.get()
    secret = id_number(777)
    Access.objects.filter(pk=bad.pk).update(actor=f"clerk-{secret}", purpose=f"核查 {secret} 的情况")
    access.query(env.clerk, env.code, id_number(2))
    access.query(env.clerk, env.code, id_number(3))
    with caplog.at_level("WARNING", logger="tongban.exchange"):
        assert sealing.seal_pending() == 3
    assert sealing.pending_count() == 0
    assert str(bad.pk) in caplog.text and secret not in caplog.text
    events = {json.loads(bytes(e.entry))["payload"]["access"]: json.loads(bytes(e.entry))
              for e in LedgerEvent.objects.filter(action=sealing.ACTION)}
    quarantined = events[bad.pk]
    assert quarantined["actor"] == sealing.REDACTED and quarantined["payload"]["purpose"] == sealing.REDACTED
    assert quarantined["payload"]["redacted"] is True
    assert quarantined["payload"]["redacted_fields"] == ["actor", "purpose"]
    assert secret not in json.dumps(quarantined, ensure_ascii=False)
    assert len(quarantined["subjects"]) == 1  # still filed under the subject's keyed hash
    others = [content for pk, content in events.items() if pk != bad.pk]
    assert len(others) == 2 and all("redacted" not in content["payload"] for content in others)
    assert ledger.entries_for_subject(id_number(1)).count() == 1

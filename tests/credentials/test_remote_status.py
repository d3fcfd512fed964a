"""Another region's status lists, fetched over real HTTP from that region's node (a local server).

Region B (820000) is a node of its own: a root key, an issuing key, a status key, a trust list
declaring its status origin, and status list credentials served by ``http.server`` in a thread.
"""

from __future__ import annotations

import gzip
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.credentials.factories import official
from tests.identity.factories import make_department
from tongban.credentials import fetch, issuer_keys, services
from tongban.credentials.keys import Ed25519SigningKey
from tongban.credentials.models import RemoteStatusList
from tongban.credentials.statuslist import StatusList, status_entry
from tongban.credentials.trustlist import build_trust_list, issuer_entry, sign_trust_list
from tongban.credentials.vc import format_datetime, issue_vc_jwt

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("cred_env")]

REGION_B = "820000"
INDEX = 4242


class RegionNode:
    """Region B's node: keys, a trust list, and an HTTP server publishing its status lists."""

    def __init__(self) -> None:
        self.responses: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.requests: list[str] = []
        self.delay = 0.0
        node = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                node.requests.append(self.path)
                if node.delay:
                    time.sleep(node.delay)
                status, headers, body = node.responses.get(self.path, (404, {}, b"not found"))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if "Content-Length" not in headers and not headers.get("X-No-Length"):
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass  # the client stopped reading (size limit)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.root, self.key, self.status_key = (Ed25519SigningKey.generate() for _ in range(3))
        self.issuer = f"{self.origin}/issuers/health"
        self.status_issuer = f"{self.origin}/issuers/node"
        self.revocation = StatusList()
        self.path = "/api/v1/credentials/status/revocation/1"
        self.url = self.origin + self.path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def trust_list(self, *, status_origins: list[str] | None = None) -> str:
        now = time.time()
        entries = [issuer_entry(self.issuer, self.key, department="澳门卫生局"),
                   issuer_entry(self.status_issuer, self.status_key, department="status lists")]
        doc = build_trust_list(REGION_B, entries, region_name="澳门", valid_until=now + 86400 * 30,
                               issued_at=now - 60,
                               status_origins=[self.origin] if status_origins is None else status_origins)
        return sign_trust_list(doc, self.root)

    def status_token(self, status_list: StatusList | None = None, *, key=None, issuer=None, url=None) -> str:
        status_list = status_list or self.revocation
        document = status_list.to_credential(url or self.url, issuer or self.status_issuer,
                                             valid_from=time.time() - 60)
        return issue_vc_jwt(document, key or self.status_key)

    def publish(self, body: str | bytes | None = None, status: int = 200, headers: dict | None = None,
                path: str | None = None) -> None:
        body = self.status_token() if body is None else body
        self.responses[path or self.path] = (status, {"Content-Type": "application/vc+jwt", **(headers or {})},
                                             body.encode() if isinstance(body, str) else body)

    def credential(self, url: str | None = None) -> str:
        now = time.time()
        return issue_vc_jwt({
            "@context": ["https://www.w3.org/ns/credentials/v2"], "id": "urn:uuid:11111111-2222-4333-8444-555555555555",
            "type": ["VerifiableCredential", "TongbanCertificate"], "issuer": self.issuer,
            "validFrom": format_datetime(now - 30), "credentialSubject": {"name": "陈大文", "colour": "绿码"},
            "credentialStatus": [status_entry("revocation", INDEX, url or self.url)]}, self.key)


@pytest.fixture
def region_b():
    node = RegionNode()
    yield node
    node.close()


@pytest.fixture
def bureau():
    return official("bureau-admin", make_department("bureau", is_bureau=True), ["bureau_admin"])


def _import(bureau, node: RegionNode, **kwargs) -> None:
    services.import_trust_list(bureau, node.trust_list(**kwargs), node.root.public_key().public_jwk(), REGION_B)


def _revocation(result) -> dict:
    return result.checks["not_revoked"]


def test_status_list_fetched_over_http_cached_then_refreshed(region_b, bureau):
    region_b.revocation.ttl_ms = 60_000
    region_b.publish()
    text = region_b.credential()
    before = services.verify(text)
    assert not before.valid and before.checks["issuer_trusted"]["code"] == "untrusted_issuer"
    assert region_b.requests == []  # nothing is fetched for an untrusted issuer
    _import(bureau, region_b)
    t0 = time.time()
    result = services.verify(text, now=t0)
    assert result.valid, result.checks
    assert region_b.requests == [region_b.path]
    row = RemoteStatusList.objects.get(url=region_b.url)
    assert row.region == REGION_B and abs(row.expires_at.timestamp() - (t0 + 60)) < 2
    # Region B revokes the credential and publishes its new list.
    region_b.revocation.set(INDEX)
    region_b.publish()
    assert services.verify(text, now=t0 + 30).valid  # still within the cached list's ttl
    assert len(region_b.requests) == 1
    late = services.verify(text, now=t0 + 61)
    assert not late.valid and _revocation(late)["code"] == "revoked"
    assert len(region_b.requests) == 2
    assert [name for name, check in late.checks.items() if not check["ok"]] == ["not_revoked"]


def test_cache_is_shared_through_the_database(region_b, bureau):
    region_b.publish()
    _import(bureau, region_b)
    t0 = time.time()
    assert services.verify(region_b.credential(), now=t0).valid
    # Another worker process has no memory of its own: it reads the same row, no second fetch.
    assert services.verify(region_b.credential(), now=t0 + 1).valid
    assert len(region_b.requests) == 1
    assert RemoteStatusList.objects.filter(url=region_b.url).exclude(token="").count() == 1


def test_default_ttl_is_five_minutes(region_b, bureau):
    document = region_b.revocation.to_credential(region_b.url, region_b.status_issuer, include_ttl=False)
    region_b.publish(issue_vc_jwt(document, region_b.status_key))
    _import(bureau, region_b)
    t0 = time.time()
    assert services.verify(region_b.credential(), now=t0).valid
    row = RemoteStatusList.objects.get(url=region_b.url)
    assert abs(row.expires_at.timestamp() - (t0 + 300)) < 2


def test_tampered_status_list_is_unavailable_never_valid(region_b, bureau):
    head, payload, signature = region_b.status_token().split(".")
    region_b.publish(f"{head}.{payload}.{signature[:-6]}AAAAAA")
    _import(bureau, region_b)
    t0 = time.time()
    result = services.verify(region_b.credential(), now=t0)
    assert not result.valid and _revocation(result)["code"] == "status_unavailable"
    assert "bad_signature" in _revocation(result)["reason_en"]
    # The failure is remembered for a short while: the region is not asked on every verification.
    again = services.verify(region_b.credential(), now=t0 + 1)
    assert _revocation(again)["code"] == "status_unavailable" and len(region_b.requests) == 1
    # Once the region serves a good list again, it counts after the retry delay.
    region_b.publish()
    assert services.verify(region_b.credential(), now=t0 + 60).valid


@pytest.mark.parametrize("signer", ["stranger", "issuer_of_other_region", "local_node"])
def test_status_list_signed_by_another_key_is_unavailable(region_b, bureau, signer):
    if signer == "stranger":
        token = region_b.status_token(key=Ed25519SigningKey.generate())
    elif signer == "local_node":
        token = region_b.status_token(key=issuer_keys.status_key(),
                                      issuer=issuer_keys.issuer_id(issuer_keys.STATUS_ISSUER))
    else:  # signed by region B's issuing key, but it names another issuer
        token = region_b.status_token(key=region_b.key, issuer="https://evil.example/issuers/x")
    region_b.publish(token)
    _import(bureau, region_b)
    result = services.verify(region_b.credential())
    assert not result.valid and _revocation(result)["code"] == "status_unavailable"


@pytest.mark.parametrize(("case", "reason"), [
    ("garbage", "compact JWS"), ("http_500", "HTTP 500"), ("redirect", "HTTP 302"),
    ("oversized_declared", "bytes allowed"), ("oversized_streamed", "bytes allowed"),
    ("gzip_encoded", "Content-Encoding gzip"), ("not_ascii", "not ASCII"), ("another_list", "says it is")])
def test_bad_responses_are_unavailable(region_b, bureau, case, reason):
    limit = fetch.MAX_RESPONSE_BYTES
    if case == "garbage":
        region_b.publish("hello, this is not a status list")
    elif case == "http_500":
        region_b.publish("oops", status=500)
    elif case == "redirect":
        region_b.publish("", status=302, headers={"Location": "http://127.0.0.1:9/elsewhere"})
    elif case == "oversized_declared":
        region_b.publish(b"a" * (limit + 10))
    elif case == "oversized_streamed":
        region_b.publish(b"a." * (limit // 2 + 10) + b"a", headers={"X-No-Length": "1", "Connection": "close"})
    elif case == "gzip_encoded":
        region_b.publish(gzip.compress(region_b.status_token().encode()), headers={"Content-Encoding": "gzip"})
    elif case == "not_ascii":
        region_b.publish("状态.列表.无效".encode())
    else:  # a good list of region B, but published under another URL than the credential names
        region_b.publish(region_b.status_token(url=region_b.origin + "/api/v1/credentials/status/revocation/2"))
    _import(bureau, region_b)
    result = services.verify(region_b.credential())
    assert not result.valid and _revocation(result)["code"] == "status_unavailable", _revocation(result)
    assert reason in _revocation(result)["reason_en"]
    assert result.checks["signature"]["ok"] and result.checks["issuer_trusted"]["ok"]


def test_gzip_bomb_is_refused(region_b, bureau):
    bomb = StatusList(size=8 * 4 * 1024 * 1024)  # 4 MiB of zero bits: a few KiB once GZIP-compressed
    token = region_b.status_token(bomb)
    assert len(token) < 64 * 1024
    region_b.publish(token)
    _import(bureau, region_b)
    result = services.verify(region_b.credential())
    assert _revocation(result)["code"] == "status_unavailable"
    assert "decompressed" in _revocation(result)["reason_en"]


def test_slow_server_times_out(region_b, bureau, monkeypatch):
    monkeypatch.setattr(fetch, "TIMEOUT", 0.3)
    region_b.delay = 2.0
    region_b.publish()
    _import(bureau, region_b)
    started = time.monotonic()
    result = services.verify(region_b.credential())
    assert time.monotonic() - started < 1.5
    assert _revocation(result)["code"] == "status_unavailable" and "timed out" in _revocation(result)["reason_en"]


def test_only_declared_origins_are_fetched(region_b, bureau):
    region_b.publish()
    _import(bureau, region_b)
    elsewhere = region_b.credential(url="http://127.0.0.2:1/api/v1/credentials/status/revocation/1")
    result = services.verify(elsewhere)
    assert _revocation(result)["code"] == "status_unavailable" and "not a status origin" in (
        _revocation(result)["reason_en"])
    not_http = region_b.credential(url="file:///etc/passwd")
    assert _revocation(services.verify(not_http))["code"] == "status_unavailable"
    assert region_b.requests == []


def test_a_trust_list_without_status_origins_still_imports_but_fails_closed(region_b, bureau):
    region_b.publish()
    _import(bureau, region_b, status_origins=[])
    result = services.verify(region_b.credential())
    assert result.checks["issuer_trusted"]["ok"]
    assert _revocation(result)["code"] == "status_unavailable" and "declares no status origin" in (
        _revocation(result)["reason_en"])
    assert region_b.requests == []


def test_a_region_cannot_claim_this_nodes_status_origin(region_b, bureau):
    from tongban.core.errors import InvalidInput

    with pytest.raises(InvalidInput) as excinfo:
        _import(bureau, region_b, status_origins=["https://tongban.330000"])
    assert excinfo.value.code == "trust_list_conflict"


def test_removal_stops_trust_and_forgets_cached_lists(region_b, bureau):
    region_b.publish()
    _import(bureau, region_b)
    assert services.verify(region_b.credential()).valid
    services.remove_region(bureau, REGION_B)
    result = services.verify(region_b.credential())
    assert not result.valid and result.checks["issuer_trusted"]["code"] == "untrusted_issuer"
    assert not RemoteStatusList.objects.exists()


def test_local_credentials_never_fetch(region_b, bureau):
    """A credential of this node names a URL of this node: read from the database, no HTTP."""
    from tests.credentials.factories import marriage_type
    from tests.identity.factories import make_citizen

    civil = make_department("civil")
    marriage_type(civil)
    clerk = official("civil-clerk", civil)
    credential = services.issue_credential(clerk, "marriage", make_citizen().id_number, {"spouse_name": "王五"})
    assert services.verify(credential.vc_jwt).valid
    assert not RemoteStatusList.objects.exists()

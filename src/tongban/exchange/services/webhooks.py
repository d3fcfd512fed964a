"""Webhook push for subscribe grants: changes POSTed to the consumer's endpoint, signed, retried.

- ``set_webhook``: the consumer department sets (or clears) the push URL of its subscribe grant;
  the answer carries the HMAC secret, once.
- ``schedule_for_resource(code)``: called after each load commits; for every valid subscribe
  grant with a URL and changes past its ``webhook_cursor`` (and no delivery in flight) it
  creates a ``WebhookDelivery`` of the next changes and enqueues the first attempt.
- ``attempt(delivery_id)``: one POST of the changes (granted items only, masked as on the
  change feed) with ``X-Tongban-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "t.body")>``
  and ``X-Tongban-Delivery``. 2xx: delivered, and the grant's cursor advances. Otherwise the
  next attempt is *scheduled* (``next_attempt_at``: 10 s, 1 min, 5 min, 30 min, 2 h), never run
  from inside the failing one; after the last it is given up (``failed``). Redirects are not
  followed (a 3xx is a failed attempt). Every attempt that connects is an access (``Access``
  row, mode ``push``), written and committed BEFORE the POST: a crash between the two leaves an
  access with no delivery, never data that left with no access entry. A POST that then fails
  keeps its row: an attempted disclosure is still logged as one.
- ``retry_due_deliveries(now)``: the periodic sweep that runs due attempts (every minute in
  ``tongban worker``).

Where a push may go (SSRF): the host is resolved (``getaddrinfo``) when the URL is set and again
at every attempt; if ANY address it resolves to is loopback, private, link-local, multicast,
reserved, unspecified or otherwise not global (IPv4 and IPv6, IPv4-mapped/6to4/Teredo/NAT64
unwrapped), the URL is refused (422 ``webhook_url_not_allowed``) or the attempt fails without
connecting. The attempt connects to the address it vetted, sending the URL's own ``Host`` (and
TLS server name), so a DNS answer that changes between the check and the connection (rebinding)
cannot redirect it. ``TONGBAN_WEBHOOK_ALLOW_PRIVATE = True`` lifts the address check (tests and
closed networks only). Plain http is allowed: operators who want https-only or an allow-list
put an egress proxy in front of the workers.

No transaction is held while waiting for the consumer's server: an attempt claims the delivery
(a conditional UPDATE pushing ``next_attempt_at`` out by a lease), POSTs, then records the
outcome in a second short transaction.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import time
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from tongban.core.errors import InvalidInput, NotFound, PermissionDenied
from tongban.exchange.models import (
    Access,
    AccessSubject,
    Grant,
    RecordVersion,
    ResourceState,
    WebhookDelivery,
)
from tongban.exchange.services import authz
from tongban.identity.access import Actor
from tongban.ledger import services as ledger

logger = logging.getLogger("tongban.exchange.webhooks")

BACKOFF_SECONDS = (10, 60, 300, 1800, 7200)  # after failed attempt 1, 2, 3, 4, 5
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1
CHANGES_PER_DELIVERY = 500
TIMEOUT_SECONDS = 10
LEASE_SECONDS = 120  # an attempt in progress holds the delivery this long
USER_AGENT = "tongban-webhook/1"
WEBHOOK_ROLES = ("steward", "dept_admin")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Tongban-Signature`` value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: str, header: str, body: bytes, *, tolerance: int = 300, now: float | None = None) -> bool:
    """What a receiver does (for consumers' reference and the tests): check v1 and the age of t."""
    try:
        parts = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), f"t={timestamp},v1={parts.get('v1', '')}")


# --- the consumer sets its endpoint ----------------------------------------------------------------


def _check_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        parts = None
    if (len(url) > 200 or parts is None or parts.scheme not in ("http", "https") or not parts.hostname
            or parts.username):
        raise InvalidInput("推送地址须为 http 或 https 网址", "The webhook URL must be an http or https URL",
                           code="invalid_webhook_url")
    resolve(url)
    return url


class AddressNotAllowed(OSError):
    """The webhook host resolves to an address pushes may not go to (or does not resolve)."""


_getaddrinfo = socket.getaddrinfo  # the tests stand in a resolver here
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_allowed(address: str) -> bool:
    """Whether a push may connect to ``address`` (an IP literal): a global unicast address only."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    candidates = [ip]
    if ip.version == 6:
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            candidates.append(embedded)
    return not any(
        c.is_loopback or c.is_private or c.is_link_local or c.is_multicast or c.is_reserved
        or c.is_unspecified or not c.is_global or (c.version == 6 and c.is_site_local)
        for c in candidates
    )


def _allow_private() -> bool:
    return bool(getattr(settings, "TONGBAN_WEBHOOK_ALLOW_PRIVATE", False))


def _not_allowed(host: str, reason: str) -> InvalidInput:
    return InvalidInput(
        "推送地址不可用：不得指向本机、内网、链路本地、组播或保留地址，且须可解析",
        "The webhook URL is not allowed: it must resolve, and not to a loopback, private, link-local, "
        "multicast or reserved address",
        code="webhook_url_not_allowed", details={"host": host[:100], "reason": reason},
    )


def resolve(url: str) -> str:
    """The vetted IP address a push to ``url`` connects to; 422 ``webhook_url_not_allowed``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = _getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise _not_allowed(host, "unresolvable") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)))
    if not addresses:
        raise _not_allowed(host, "unresolvable")
    if not _allow_private():
        refused = [address for address in addresses if not address_allowed(address)]
        if refused:
            raise _not_allowed(host, "address_not_allowed")
    return addresses[0]


def set_webhook(actor: Actor, grant_id: int, url: str | None, *, since: int | None = None) -> dict:
    """Set (or, with an empty ``url``, clear) the push endpoint of the caller's subscribe grant.

    A new secret is made each time a URL is set and answered this once. Pushing starts after
    ``since`` (default: the resource's latest change, i.e. changes from now on). Caller: a
    system token with ``exchange:subscribe`` or a steward/department admin of the consumer.
    """
    if actor.kind == "system":
        authz.check_caller(actor, "push")
    elif not (actor.kind == "official" and actor.has_role(*WEBHOOK_ROLES)):
        raise PermissionDenied(details={"required_role": sorted(WEBHOOK_ROLES)})
    grant = Grant.objects.select_for_update().filter(pk=grant_id).first()
    if grant is None or actor.department_id is None or grant.consumer_id != actor.department_id:
        raise NotFound()
    view = authz.GrantView.of(grant)
    authz.choose_grant((view,), grant.resource_code, "push")  # active, valid, subscribe mode
    if not url:
        grant.webhook_url, grant.webhook_secret = "", ""
        grant.save(update_fields=["webhook_url", "webhook_secret"])
        WebhookDelivery.objects.filter(grant=grant, status=WebhookDelivery.Status.PENDING).update(
            status=WebhookDelivery.Status.FAILED, last_error="webhook cleared")
        _record(actor, grant, {"cleared": True})
        return {"grant": grant.pk, "url": "", "secret": None, "cursor": grant.webhook_cursor}
    grant.webhook_url = _check_url(url)
    grant.webhook_secret = secrets.token_hex(32)
    if since is None:
        since = ResourceState.objects.filter(resource_code=grant.resource_code).values_list(
            "last_seq", flat=True).first() or 0
    if isinstance(since, bool) or not isinstance(since, int) or since < 0:
        raise InvalidInput("since 应为非负整数", "since must be a non-negative integer", code="invalid_since")
    grant.webhook_cursor = since
    grant.save(update_fields=["webhook_url", "webhook_secret", "webhook_cursor"])
    _record(actor, grant, {"host": urlsplit(grant.webhook_url).hostname, "since": since})
    return {"grant": grant.pk, "url": grant.webhook_url, "secret": grant.webhook_secret, "cursor": since}


def _record(actor: Actor, grant: Grant, payload: dict) -> None:
    ledger.record(actor=actor.username or "unknown", action="exchange.webhook_set",
                  subject=f"resource:{grant.resource_code}", payload={"grant": grant.pk, **payload},
                  department=actor.department_code)


# --- scheduling -----------------------------------------------------------------------------------------


def schedule_for_resource(code: str) -> None:
    """Create the next delivery for every subscriber of ``code`` that is behind (after a load)."""
    last_seq = ResourceState.objects.filter(resource_code=code).values_list("last_seq", flat=True).first() or 0
    now = timezone.now()
    grants = Grant.objects.filter(resource_code=code, status=Grant.Status.ACTIVE, starts_at__lte=now,
                                  expires_at__gt=now, webhook_cursor__lt=last_seq).exclude(webhook_url="")
    for grant in grants:
        if "subscribe" in (grant.modes or ()):
            _schedule(grant, last_seq)


def _schedule(grant: Grant, last_seq: int) -> WebhookDelivery | None:
    with transaction.atomic():
        if WebhookDelivery.objects.filter(grant=grant, status=WebhookDelivery.Status.PENDING).exists():
            return None  # one in flight per grant: the next starts when it is settled
        delivery = WebhookDelivery.objects.create(
            grant=grant, from_seq=grant.webhook_cursor + 1,
            to_seq=min(last_seq, grant.webhook_cursor + CHANGES_PER_DELIVERY), next_attempt_at=timezone.now(),
        )
        transaction.on_commit(lambda: deliver_task(delivery.pk))
    return delivery


@db_task(name="tongban.exchange.webhook_deliver")
def deliver_task(delivery_id: int) -> str:
    return attempt(delivery_id)


@db_periodic_task(crontab(minute="*"), name="tongban.exchange.webhook_retry")
def retry_task() -> int:
    return retry_due_deliveries()


def retry_due_deliveries(now: datetime.datetime | None = None, *, limit: int = 100) -> int:
    """Run the attempts that are due at ``now``; returns how many were attempted."""
    now = now or timezone.now()
    due = list(WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
               .order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    for delivery_id in due:
        attempt(delivery_id, now=now)
    return len(due)


# --- one attempt ------------------------------------------------------------------------------------------


def _claim(delivery_id: int, now: datetime.datetime) -> bool:
    with transaction.atomic():
        return bool(WebhookDelivery.objects.filter(
            pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now,
        ).update(next_attempt_at=now + datetime.timedelta(seconds=LEASE_SECONDS), attempts=F("attempts") + 1))


def _body(delivery: WebhookDelivery, grant: Grant) -> tuple[bytes, int, list[str]]:
    view = authz.GrantView.of(grant)
    projection = view.projection(authz.resource_view(grant.resource_code))
    rows = list(RecordVersion.objects.filter(resource_code=grant.resource_code, seq__gte=delivery.from_seq,
                                             seq__lte=delivery.to_seq).order_by("seq")
                .values_list("seq", "subject", "data", "created_at"))
    body = {
        "delivery": delivery.pk, "resource": grant.resource_code, "grant": grant.pk,
        "from": delivery.from_seq, "to": delivery.to_seq, "next": delivery.to_seq,
        "changes": [{"seq": seq, "changed_at": at.isoformat(), "record": projection.apply(data)}
                    for seq, _subject, data, at in rows],
        "masked": projection.masked,
    }
    subjects = list(dict.fromkeys(subject for _seq, subject, _data, _at in rows))
    encoded = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return encoded, len(rows), subjects


def _post(url: str, address: str, body: bytes, headers: dict[str, str]) -> int:
    """POST ``body`` to ``url``, connecting to the vetted ``address`` (Host and TLS name from the URL)."""
    parts = urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    conn = connection_class(parts.hostname, parts.port, timeout=TIMEOUT_SECONDS)

    def pinned(host_port, timeout=TIMEOUT_SECONDS, source_address=None):
        return socket.create_connection((address, host_port[1]), timeout, source_address)

    conn._create_connection = pinned  # http.client's own hook: connect() (and TLS) use the vetted address
    try:
        conn.request("POST", target, body=body, headers=headers)
        response = conn.getresponse()
        response.read(64 * 1024)
        return response.status
    finally:
        conn.close()


def attempt(delivery_id: int, *, now: datetime.datetime | None = None) -> str:
    """One attempt of a due delivery; returns its status afterwards (or ``skipped``)."""
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return "skipped"
    delivery = WebhookDelivery.objects.select_related("grant").get(pk=delivery_id)
    grant = delivery.grant
    view = authz.GrantView.of(grant)
    if not grant.webhook_url or not view.valid_at(now.timestamp()) or "subscribe" not in view.modes:
        _settle(delivery, now, error="the grant no longer allows push", give_up=True)
        return WebhookDelivery.Status.FAILED
    body, count, subjects = _body(delivery, grant)
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
        "X-Tongban-Signature": sign(grant.webhook_secret, timestamp, body),
        "X-Tongban-Delivery": str(delivery.pk), "X-Tongban-Attempt": str(delivery.attempts),
        "Idempotency-Key": str(uuid.uuid5(uuid.NAMESPACE_URL, f"tongban-delivery-{delivery.pk}")),
    }
    try:
        address = resolve(grant.webhook_url)  # vetted again now: DNS may have changed since it was set
    except InvalidInput as refusal:
        # Nothing left the platform: no access. Retried on the schedule (the DNS may be fixed).
        reason = (refusal.details or {}).get("reason", "address_not_allowed")
        _settle(delivery, now, error=f"webhook_url_not_allowed: {reason}")
        return _status(delivery)
    with transaction.atomic():  # committed before anything is sent (see the module docstring)
        _log_push(delivery, now, view, count, subjects)
    try:
        status = _post(grant.webhook_url, address, body, headers)
        error = None if 200 <= status < 300 else f"HTTP {status}"
    except (OSError, http.client.HTTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
    _settle(delivery, now, error=error)
    if error is None:
        schedule_for_resource(grant.resource_code)  # the next batch, if the resource moved on
    return _status(delivery)


def _status(delivery: WebhookDelivery) -> str:
    delivery.refresh_from_db(fields=["status"])
    return delivery.status


def _settle(delivery: WebhookDelivery, now: datetime.datetime, *, error: str | None, give_up: bool = False) -> None:
    with transaction.atomic():
        if error is None:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status=WebhookDelivery.Status.DELIVERED, delivered_at=now, next_attempt_at=None, last_error="")
            Grant.objects.filter(pk=delivery.grant_id, webhook_cursor__lt=delivery.to_seq).update(
                webhook_cursor=delivery.to_seq)
            return
        attempts = WebhookDelivery.objects.filter(pk=delivery.pk).values_list("attempts", flat=True).first() or 0
        if give_up or attempts >= MAX_ATTEMPTS:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status=WebhookDelivery.Status.FAILED, next_attempt_at=None, last_error=error[:300])
        else:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                next_attempt_at=now + datetime.timedelta(seconds=BACKOFF_SECONDS[attempts - 1]),
                last_error=error[:300])
        logger.info("webhook delivery %s attempt %s failed: %s", delivery.pk, attempts, error)


def _log_push(delivery: WebhookDelivery, now: datetime.datetime, view: authz.GrantView, count: int,
              subjects: list[str]) -> None:
    """The attempt as an access (mode ``push``), before the POST: the data leaves, delivered or not."""
    projection = view.projection(authz.resource_view(view.resource_code))
    grant = delivery.grant
    hashes = [ledger.subject_hash(subject) for subject in subjects]
    access = Access.objects.create(
        at=now, grant_id=grant.pk, resource_code=grant.resource_code, consumer_code=grant.consumer.code,
        actor=f"webhook:{delivery.pk}", mode="push", items=list(projection.keys), purpose=grant.purpose,
        subject_hash=hashes[0] if len(hashes) == 1 else "", subject_count=len(hashes), found=count,
    )
    if len(hashes) > 1:
        AccessSubject.objects.bulk_create([AccessSubject(access=access, subject_hash=h) for h in hashes])

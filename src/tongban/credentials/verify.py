"""Verification of a presented credential (VC-JWT or ``TB1:`` QR text), check by check.

``verify_credential`` never raises on bad input: it answers a ``VerificationResult`` whose
``checks`` hold, in this order, ``format``, ``signature``, ``issuer_trusted``, ``not_expired``,
``not_revoked`` and ``not_suspended``, each ``{"ok", "code", "reason", "reason_zh", "reason_en"}``
(``reason`` is both languages). A check that cannot run because an earlier one failed says
``not_checked``. ``valid`` is true only when every check passed. ``claims`` are given only once
the signature verified (the credential JSON for a VC-JWT, the decoded claim map for a QR text).

Status is checked fail-closed: a credential with a revocation or suspension entry whose status
list cannot be had (no ``status_lookup``, or it returns None or raises ``CredentialError``,
``LookupError`` or ``OSError``) does not verify. ``status_lookup(url)`` returns the
``StatusList`` published at ``url``, its status list credential checked against the trust store
and cached for its ``ttl``: ``StatusListCache(fetch, trust_store)`` does exactly that around a
``fetch(url) -> VC-JWT`` (HTTP on a node, a file for the offline verifier). A lookup that needs
to know whose credential it is serving (to take the list only from that issuer's region) also
has ``for_issuer(issuer) -> lookup``; it is called with the ``TrustedIssuer`` whose key signed
the credential, and the lookup it returns is used instead.

A credential is trusted when the trust store holds its ``kid``, the key's owner is the
credential's ``issuer``, the key's signing window covers the issuance (``validFrom``; in a QR text
``issued_at``, else ``valid_from``) and, for an imported region, that region's list is current.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tongban.credentials import qr, vc
from tongban.credentials.keys import CredentialError, message
from tongban.credentials.statuslist import StatusList
from tongban.credentials.trustlist import TrustedIssuer
from tongban.credentials.truststore import TrustStore
from tongban.credentials.vc import format_datetime

#: Largest input accepted (bytes of UTF-8).
MAX_INPUT = 16 * 1024
#: Largest status list credential (VC-JWT, bytes) and decompressed bitstring (bytes: 16,777,216
#: entries) accepted; the GZIP is inflated incrementally up to this cap (decompression bombs).
MAX_STATUS_LIST_JWT = 1024 * 1024
MAX_STATUS_LIST_BYTES = 2 * 1024 * 1024
CHECKS = ("format", "signature", "issuer_trusted", "not_expired", "not_revoked", "not_suspended")

StatusLookup = Callable[[str], StatusList | None]


def _check(ok: bool, code: str, detail_en: str = "", detail_zh: str | None = None) -> dict[str, Any]:
    """A check with the code's text and an optional detail (``detail_zh`` defaults to ``detail_en``,
    for details that are data: URLs, dates, key ids)."""
    zh, en = message(code)
    if detail_en:
        zh, en = f"{zh}：{detail_en if detail_zh is None else detail_zh}", f"{en}: {detail_en}"
    return {"ok": ok, "code": code, "reason": f"{zh} / {en}", "reason_zh": zh, "reason_en": en}


_NOT_CHECKED = _check(False, "not_checked")


def _passed(zh: str, en: str) -> dict[str, Any]:
    return {"ok": True, "code": "ok", "reason": f"{zh} / {en}", "reason_zh": zh, "reason_en": en}


def _from_error(exc: CredentialError) -> dict[str, Any]:
    return {"ok": False, "code": exc.code, "reason": f"{exc.message_zh} / {exc.message_en}",
            "reason_zh": exc.message_zh, "reason_en": exc.message_en}


_FORMAT_JWT = _passed("格式正确（VC-JWT）", "Well-formed VC-JWT")
_FORMAT_QR = _passed("格式正确（TB1 二维码）", "Well-formed TB1 QR text")
_NO_ENTRY = {
    "revocation": _passed("证照没有吊销状态条目（不可吊销）", "The credential has no revocation status entry"),
    "suspension": _passed("证照没有暂停状态条目（不可暂停）", "The credential has no suspension status entry"),
}
_STATUS_OK = {"revocation": _passed("未被吊销", "Not revoked"), "suspension": _passed("未被暂停", "Not suspended")}


@dataclass
class VerificationResult:
    valid: bool
    checks: dict[str, dict[str, Any]]
    claims: dict[str, Any] = field(default_factory=dict)
    #: ``"vc+jwt"``, ``"tb1"`` or None when the input was not recognised.
    format: str | None = None

    @property
    def first_failure(self) -> dict[str, Any] | None:
        """The first failed check (the main reason a credential is refused), or None."""
        return next((c for c in self.checks.values() if not c["ok"]), None)

    def to_dict(self) -> dict[str, Any]:
        """The API answer: ``{"valid", "format", "checks", "claims"}``."""
        return {"valid": self.valid, "format": self.format, "checks": self.checks, "claims": self.claims}


@dataclass(slots=True)
class _Presented:
    """What the checks after ``signature`` need, the same for both formats."""

    issuer: str
    issued_at: float
    valid_from: float
    valid_until: float | None
    status: list[vc.StatusEntry]
    claims: dict[str, Any]
    valid_until_text: str | None = None


def _epoch(now: dt.datetime | float | None) -> float:
    if now is None:
        return time.time()
    if isinstance(now, dt.datetime):
        if now.tzinfo is None:
            raise ValueError("naive datetime: give a time zone")
        return now.timestamp()
    return float(now)


def _result(checks: dict[str, dict[str, Any]], claims: dict[str, Any], fmt: str | None) -> VerificationResult:
    valid = len(checks) == len(CHECKS)
    for name in CHECKS:
        check = checks.get(name)
        if check is None:
            checks[name] = _NOT_CHECKED.copy()
        elif not check["ok"]:
            valid = False
    return VerificationResult(valid, checks, claims, fmt)


def verify_credential(
    text: str | bytes,
    trust_store: TrustStore,
    status_lookup: StatusLookup | None = None,
    now: dt.datetime | float | None = None,
) -> VerificationResult:
    """Verifies a VC-JWT or a ``TB1:`` QR text against ``trust_store`` at time ``now``."""
    when = _epoch(now)
    checks: dict[str, dict[str, Any]] = {}

    # format
    if isinstance(text, (bytes, bytearray)):
        if len(text) > MAX_INPUT:
            checks["format"] = _check(False, "oversized", f"over {MAX_INPUT // 1024} KiB", f"超过 {MAX_INPUT // 1024} KiB")
            return _result(checks, {}, None)
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            checks["format"] = _check(False, "unrecognised_format", "not UTF-8 text", "不是 UTF-8 文本")
            return _result(checks, {}, None)
    if not isinstance(text, str):
        checks["format"] = _check(False, "unrecognised_format")
        return _result(checks, {}, None)
    if len(text) > MAX_INPUT or len(text.encode("utf-8", "surrogatepass")) > MAX_INPUT:
        checks["format"] = _check(False, "oversized", f"over {MAX_INPUT // 1024} KiB", f"超过 {MAX_INPUT // 1024} KiB")
        return _result(checks, {}, None)
    text = text.strip()
    fmt: str | None
    try:
        if text.startswith(qr.PREFIX):
            fmt = "tb1"
            parsed_qr = qr.parse_qr_text(text)
            kid = parsed_qr.kid
        elif text.count(".") == 2 and ":" not in text:
            fmt = "vc+jwt"
            parsed_jwt = vc.parse_vc_jwt(text)
            kid = parsed_jwt.kid
        else:
            fmt = None
            head = text.split(":", 1)[0] if ":" in text[:8] else ""
            raise CredentialError("bad_prefix" if head else "unrecognised_format",
                                  f"prefix {head + ':'!r}" if head else "")
    except CredentialError as exc:
        checks["format"] = _from_error(exc)
        return _result(checks, {}, fmt)
    checks["format"] = (_FORMAT_JWT if fmt == "vc+jwt" else _FORMAT_QR).copy()

    # signature (with the key the trust store holds for kid)
    entry = trust_store.lookup(kid)
    if entry is None:
        checks["signature"] = _check(False, "no_trusted_key", f"kid {kid!r}")
        checks["issuer_trusted"] = _check(False, "untrusted_issuer", f"no trusted key with kid {kid!r}",
                                          f"信任列表中没有密钥 {kid!r}")
        return _result(checks, {}, fmt)
    try:
        if fmt == "vc+jwt":
            vc.check_vc_jwt_signature(parsed_jwt, entry.key)
        else:
            parsed_qr.cose.check_signature(entry.key)
    except CredentialError as exc:
        checks["signature"] = _from_error(exc)
        return _result(checks, {}, fmt)
    checks["signature"] = _passed(f"签名有效（密钥 {kid}）", f"Signature verifies (key {kid})")
    presented = _present_jwt(parsed_jwt) if fmt == "vc+jwt" else _present_qr(parsed_qr)

    # issuer_trusted
    if presented.issuer != entry.issuer:
        checks["issuer_trusted"] = _check(False, "issuer_mismatch",
                                          f"{presented.issuer!r}; the key belongs to {entry.issuer!r}",
                                          f"证照声明 {presented.issuer!r}，密钥属于 {entry.issuer!r}")
    elif not entry.may_sign_at(presented.issued_at):
        issued = format_datetime(presented.issued_at)
        checks["issuer_trusted"] = _check(False, "key_not_valid", f"issued {issued}", f"签发于 {issued}")
    elif entry.list_valid_until is not None and when > entry.list_valid_until:
        since = format_datetime(entry.list_valid_until)
        checks["issuer_trusted"] = _check(False, "trust_list_expired", f"region {entry.region}, since {since}",
                                          f"地区 {entry.region}，自 {since} 起")
    else:
        department = f"{entry.department}，" if entry.department else ""
        checks["issuer_trusted"] = _passed(f"签发机构可信（{department}地区 {entry.region}）",
                                           f"Trusted issuer ({entry.department + ', ' if entry.department else ''}"
                                           f"region {entry.region})")

    # not_expired
    if when < presented.valid_from:
        start = format_datetime(presented.valid_from)
        checks["not_expired"] = _check(False, "not_yet_valid", f"valid from {start}", f"生效时间 {start}")
    elif presented.valid_until is not None and when > presented.valid_until:
        end = format_datetime(presented.valid_until)
        checks["not_expired"] = _check(False, "expired", f"valid until {end}", f"有效期至 {end}")
    elif presented.valid_until is None:
        checks["not_expired"] = _passed("在有效期内（长期有效）", "Within its validity period (no expiry)")
    else:
        until = presented.valid_until_text or format_datetime(presented.valid_until)
        checks["not_expired"] = _passed(f"在有效期内（至 {until}）", f"Within its validity period (until {until})")

    # not_revoked, not_suspended
    lookup = status_lookup
    if presented.status and status_lookup is not None:
        bind = getattr(status_lookup, "for_issuer", None)
        if bind is not None:
            lookup = bind(entry)
    for name, purpose, bad in (("not_revoked", "revocation", "revoked"), ("not_suspended", "suspension", "suspended")):
        checks[name] = _status_check(presented.status, purpose, bad, lookup)

    return _result(checks, presented.claims, fmt)


def _present_jwt(parsed: vc.ParsedVcJwt) -> _Presented:
    info = parsed.info
    return _Presented(info.issuer, info.valid_from, info.valid_from, info.valid_until, info.status,
                      parsed.credential, parsed.credential.get("validUntil"))


def _present_qr(parsed: qr.ParsedQr) -> _Presented:
    claims = parsed.claims
    issued_at = claims["issued_at"] if claims["issued_at"] is not None else claims["valid_from"]
    status = [vc.StatusEntry(s["purpose"], s["index"], s["list"]) for s in claims["status"]]
    return _Presented(claims["issuer"], issued_at, claims["valid_from"], claims["valid_until"], status, claims)


def _status_check(entries: list[vc.StatusEntry], purpose: str, bad: str,
                  status_lookup: StatusLookup | None) -> dict[str, Any]:
    relevant = [e for e in entries if e.purpose == purpose]
    if not relevant:
        return _NO_ENTRY[purpose].copy()
    for entry in relevant:
        if status_lookup is None:
            return _check(False, "status_unavailable", "no status source configured", "未配置状态来源")
        try:
            status_list = status_lookup(entry.list_url)
        except CredentialError as exc:
            reason = exc.detail if exc.code == "status_unavailable" and exc.detail else exc.message_en
            return _check(False, "status_unavailable", f"{entry.list_url}: {reason}")
        except (LookupError, OSError) as exc:
            return _check(False, "status_unavailable", f"{entry.list_url}: {exc}")
        if status_list is None:
            return _check(False, "status_unavailable", entry.list_url)
        if purpose not in status_list.purposes:
            purposes = ", ".join(status_list.purposes)
            return _check(False, "status_purpose_mismatch", f"{entry.list_url} is for {purposes}",
                          f"{entry.list_url} 的用途为 {purposes}")
        try:
            is_set = status_list.get(entry.index)
        except CredentialError:
            return _check(False, "status_index_out_of_range", f"{entry.index} in {entry.list_url}",
                          f"{entry.list_url} 中的 {entry.index}")
        if is_set:
            return _check(False, bad, f"status list {entry.list_url}, entry {entry.index}",
                          f"状态列表 {entry.list_url}，第 {entry.index} 条")
    return _STATUS_OK[purpose].copy()


# --- status list credentials ----------------------------------------------------------------


def open_status_list_credential(
    token: str,
    trust_store: TrustStore,
    *,
    url: str | None = None,
    now: dt.datetime | float | None = None,
    region: str | None = None,
    max_bytes: int = MAX_STATUS_LIST_BYTES,
) -> StatusList:
    """The ``StatusList`` of a ``BitstringStatusListCredential`` secured as a VC-JWT.

    Its key must be in ``trust_store`` and belong to its ``issuer`` (and, when ``region`` is
    given, to that region's list), it must be valid at ``now``, and when ``url`` is given its
    ``id`` must be that URL (so one list cannot stand in for another). The bitstring may expand
    to at most ``max_bytes``. Raises ``CredentialError``.
    """
    return open_status_list(token, trust_store, url=url, now=now, region=region, max_bytes=max_bytes)[0]


def open_status_list(
    token: str,
    trust_store: TrustStore,
    *,
    url: str | None = None,
    now: dt.datetime | float | None = None,
    region: str | None = None,
    max_bytes: int = MAX_STATUS_LIST_BYTES,
) -> tuple[StatusList, TrustedIssuer, float | None]:
    """``open_status_list_credential``, also answering the signing key's trust-list entry and the
    status list credential's ``validUntil`` (None when it has none)."""
    parsed = vc.parse_vc_jwt(token, MAX_STATUS_LIST_JWT)
    entry = trust_store.issuer_for(parsed.kid)
    if region is not None and entry.region != region:
        raise CredentialError("status_unavailable", f"the status list is signed by a key of region {entry.region}, "
                                                    f"not of the credential's region {region}")
    vc.check_vc_jwt_signature(parsed, entry.key)
    info = parsed.info
    if info.issuer != entry.issuer:
        raise CredentialError("issuer_mismatch", f"status list of {info.issuer!r} signed by {entry.issuer!r}")
    if url is not None and parsed.credential.get("id") != url:
        raise CredentialError("status_list_malformed", f"the list at {url} says it is {parsed.credential.get('id')!r}")
    when = _epoch(now)
    if when < info.valid_from or (info.valid_until is not None and when > info.valid_until):
        raise CredentialError("status_unavailable", "the status list credential is outside its validity period")
    if entry.list_valid_until is not None and when > entry.list_valid_until:
        raise CredentialError("status_unavailable", f"the trust list of region {entry.region} has expired")
    return StatusList.from_credential(parsed.credential, max_bytes=max_bytes), entry, info.valid_until


class StatusListCache:
    """A ``status_lookup`` for ``verify_credential`` that fetches, checks and caches status lists.

    ``fetch(url)`` returns the status list credential (a VC-JWT) published at ``url``: over HTTP
    on a node, from a file for the offline verifier. Each list is kept for its ``ttl`` (the spec's
    ``credentialSubject.ttl`` in milliseconds, 300,000 by default) and fetched again after; a
    failed fetch raises, so verification reports ``status_unavailable`` (fail closed).
    """

    def __init__(self, fetch: Callable[[str], str], trust_store: TrustStore,
                 clock: Callable[[], float] = time.time) -> None:
        self._fetch, self._trust_store, self._clock = fetch, trust_store, clock
        self._lists: dict[str, tuple[float, StatusList, str]] = {}

    def __call__(self, url: str) -> StatusList:
        return self._get(url, None)

    def for_issuer(self, issuer: TrustedIssuer) -> Callable[[str], StatusList]:
        """The lookup for a credential of ``issuer``: lists signed by a key of its region only."""
        return lambda url: self._get(url, issuer.region)

    def _get(self, url: str, region: str | None) -> StatusList:
        now = self._clock()
        cached = self._lists.get(url)
        if cached is not None and now < cached[0]:
            if region is not None and cached[2] != region:
                raise CredentialError("status_unavailable", f"the status list is signed by a key of region "
                                                            f"{cached[2]}, not of the credential's region {region}")
            return cached[1]
        status_list, signer, _until = open_status_list(self._fetch(url), self._trust_store, url=url, now=now,
                                                       region=region)
        self._lists[url] = (now + status_list.ttl_ms / 1000, status_list, signer.region)
        return status_list

    def invalidate(self, url: str | None = None) -> None:
        """Forgets one list (e.g. right after this node changed it) or all of them."""
        if url is None:
            self._lists.clear()
        else:
            self._lists.pop(url, None)

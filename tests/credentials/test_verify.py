"""verify_credential: every check separately, with its own reason, for VC-JWT and TB1: QR texts."""

from __future__ import annotations

import base64
import json
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tongban.credentials import qr as Q
from tongban.credentials.keys import CredentialError, Ed25519SigningKey
from tongban.credentials.statuslist import StatusList
from tongban.credentials.trustlist import (
    build_trust_list,
    issuer_entry,
    open_trust_list,
    sign_trust_list,
)
from tongban.credentials.truststore import TrustStore
from tongban.credentials.vc import issue_vc_jwt
from tongban.credentials.verify import (
    CHECKS,
    MAX_INPUT,
    StatusListCache,
    VerificationResult,
    open_status_list_credential,
    verify_credential,
)

from . import (
    ISSUER_A,
    ISSUER_B,
    JAN_2026,
    JAN_2031,
    LIST_UNTIL,
    NOW,
    REVOCATION_URL,
    SUSPENSION_URL,
    Region,
    credential,
    qr_claims,
)

FORMATS = ["vc+jwt", "tb1"]


@pytest.fixture
def gd() -> Region:
    return Region("440000", ISSUER_A, name="广东省")


def _issue(region: Region, fmt: str, key: Ed25519SigningKey | None = None, **changes: object) -> str:
    key = key or region.key
    if fmt == "vc+jwt":
        vc_changes = {name: value for name, value in changes.items() if name in ("validFrom", "validUntil", "issuer")}
        return issue_vc_jwt(credential(**vc_changes), key)
    qr_changes = {"valid_from": changes.get("valid_from", JAN_2026), "valid_until": changes.get("valid_until", JAN_2031),
                  "issuer": changes.get("qr_issuer", ISSUER_A), "issued_at": changes.get("issued_at", JAN_2026)}
    return Q.encode_qr_text(qr_claims(**qr_changes), key)


def _verify(text: str | bytes, region: Region, store: TrustStore | None = None, now: float = NOW) -> VerificationResult:
    return verify_credential(text, store or region.store(), region.status_lookup, now)


def _only_failure(result: VerificationResult) -> tuple[str, str]:
    failed = [(name, check["code"]) for name, check in result.checks.items() if not check["ok"]]
    assert len(failed) == 1, failed
    return failed[0]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_good_credential_passes_every_check(gd: Region, fmt: str) -> None:
    result = _verify(_issue(gd, fmt), gd)
    assert result.valid and result.format == fmt and result.first_failure is None
    assert list(result.checks) == list(CHECKS)
    for check in result.checks.values():
        assert check["ok"] and check["code"] == "ok" and check["reason_zh"] and check["reason_en"]
        assert check["reason"] == f"{check['reason_zh']} / {check['reason_en']}"
    claims = result.claims
    assert (claims["id"] if fmt == "tb1" else claims["credentialSubject"]["name"]) in (
        qr_claims()["id"], "深圳示例科技有限公司")
    assert set(result.to_dict()) == {"valid", "format", "checks", "claims"}
    json.dumps(result.to_dict(), ensure_ascii=False)  # serialisable as the API answer


def test_bytes_and_surrounding_whitespace_are_accepted(gd: Region) -> None:
    assert _verify(("  " + _issue(gd, "tb1") + "\n").encode(), gd).valid


def test_tampered_credential(gd: Region) -> None:
    header, payload, signature = _issue(gd, "vc+jwt").split(".")
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw[raw.index(b"2031")] = ord("3")  # validUntil 2031 -> 3031: still valid JSON and a valid date
    forged = f"{header}.{base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}.{signature}"
    result = _verify(forged, gd)
    assert not result.valid and result.checks["format"]["ok"]
    assert result.checks["signature"]["code"] == "bad_signature"
    assert result.claims == {}  # nothing of a forged credential is shown as if it were true
    assert "篡改" in result.checks["signature"]["reason_zh"] and "altered" in result.checks["signature"]["reason_en"]
    for name in ("issuer_trusted", "not_expired", "not_revoked", "not_suspended"):
        assert result.checks[name]["code"] == "not_checked"


@pytest.mark.parametrize("fmt", FORMATS)
def test_wrong_key(gd: Region, fmt: str) -> None:
    impostor = Ed25519SigningKey.generate(kid=gd.key.kid)  # claims the trusted kid, signs with another key
    result = _verify(_issue(gd, fmt, key=impostor), gd)
    assert result.checks["signature"]["code"] == "bad_signature" and not result.valid


@pytest.mark.parametrize("fmt", FORMATS)
def test_expired(gd: Region, fmt: str) -> None:
    result = _verify(_issue(gd, fmt), gd, now=JAN_2031 + 1)
    assert _only_failure(result) == ("not_expired", "expired")
    assert "过期" in result.checks["not_expired"]["reason_zh"] and "2031-01-01" in result.checks["not_expired"]["reason"]
    assert result.claims  # the signature is good: the verifier page shows what expired


@pytest.mark.parametrize("fmt", FORMATS)
def test_not_yet_valid(gd: Region, fmt: str) -> None:
    result = _verify(_issue(gd, fmt), gd, now=JAN_2026 - 1)
    assert _only_failure(result) == ("not_expired", "not_yet_valid")


@pytest.mark.parametrize("fmt", FORMATS)
def test_revoked(gd: Region, fmt: str) -> None:
    gd.revocation.set(94567)
    result = _verify(_issue(gd, fmt), gd)
    assert _only_failure(result) == ("not_revoked", "revoked")
    assert "吊销" in result.checks["not_revoked"]["reason_zh"] and "revoked" in result.checks["not_revoked"]["reason_en"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_suspended_then_lifted(gd: Region, fmt: str) -> None:
    text = _issue(gd, fmt)
    gd.suspension.set(23452)
    result = _verify(text, gd)
    assert _only_failure(result) == ("not_suspended", "suspended")
    assert "暂停" in result.checks["not_suspended"]["reason_zh"]
    gd.suspension.clear(23452)
    assert _verify(text, gd).valid


def test_status_unavailable_fails_closed(gd: Region) -> None:
    text = _issue(gd, "vc+jwt")
    store = gd.store()
    result = verify_credential(text, store, None, NOW)
    assert result.checks["not_revoked"]["code"] == result.checks["not_suspended"]["code"] == "status_unavailable"
    assert not verify_credential(text, store, lambda url: None, NOW).valid

    def broken(url: str) -> StatusList:
        raise OSError("network unreachable")

    assert verify_credential(text, store, broken, NOW).checks["not_revoked"]["code"] == "status_unavailable"


def test_status_list_of_the_wrong_purpose(gd: Region) -> None:
    lists = {REVOCATION_URL: gd.suspension, SUSPENSION_URL: gd.suspension}
    result = verify_credential(_issue(gd, "vc+jwt"), gd.store(), lists.get, NOW)
    assert _only_failure(result) == ("not_revoked", "status_purpose_mismatch")


def test_a_credential_without_status_entries(gd: Region) -> None:
    text = issue_vc_jwt(credential(credentialStatus=None), gd.key)
    result = verify_credential(text, gd.store(), None, NOW)
    assert result.valid and "no revocation" in result.checks["not_revoked"]["reason_en"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_untrusted_issuer(gd: Region, fmt: str) -> None:
    stranger = Region("650000", "https://xj.tongban.example/issuers/market")
    result = _verify(_issue(stranger, fmt), gd)
    assert result.checks["issuer_trusted"]["code"] == "untrusted_issuer"
    assert result.checks["signature"]["code"] == "no_trusted_key"
    assert "信任列表" in result.checks["issuer_trusted"]["reason_zh"] and not result.valid and result.claims == {}


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_trusted_key_cannot_sign_for_another_issuer(gd: Region, fmt: str) -> None:
    text = _issue(gd, fmt, issuer={"id": ISSUER_B}, qr_issuer=ISSUER_B)
    assert _only_failure(_verify(text, gd)) == ("issuer_trusted", "issuer_mismatch")


def test_key_used_outside_its_validity_window(gd: Region) -> None:
    doc = build_trust_list("440000", [issuer_entry(ISSUER_A, gd.key, valid_from=JAN_2026, valid_until=JAN_2026 + 86400)],
                           valid_until=JAN_2031, issued_at=JAN_2026)
    store = TrustStore(open_trust_list(sign_trust_list(doc, gd.root), gd.root.public_key(), now=NOW))
    late = issue_vc_jwt(credential(validFrom="2026-03-01T00:00:00Z"), gd.key)
    assert _only_failure(verify_credential(late, store, gd.status_lookup, NOW)) == ("issuer_trusted", "key_not_valid")
    assert verify_credential(_issue(gd, "vc+jwt"), store, gd.status_lookup, NOW).valid


def test_an_expired_imported_list_stops_trust(gd: Region) -> None:
    mo = Region("820000", ISSUER_B)
    store = gd.store()
    store.import_token(mo.token, mo.root.public_key(), "820000", now=NOW)
    text = issue_vc_jwt(credential(issuer=ISSUER_B, validUntil=None), mo.key)
    assert verify_credential(text, store, mo.status_lookup, NOW).valid
    late = verify_credential(text, store, mo.status_lookup, LIST_UNTIL + 10)
    assert _only_failure(late) == ("issuer_trusted", "trust_list_expired")


@pytest.mark.parametrize("fmt", FORMATS)
def test_mutual_recognition_with_region_b(gd: Region, fmt: str) -> None:
    """Region B's credential: fails before import, passes after, fails again once removed."""
    mo = Region("820000", ISSUER_B, name="澳门")
    text = (issue_vc_jwt(credential(issuer=ISSUER_B), mo.key) if fmt == "vc+jwt"
            else Q.encode_qr_text(qr_claims(issuer=ISSUER_B), mo.key))
    store = gd.store()

    def check() -> VerificationResult:
        return verify_credential(text, store, mo.status_lookup, NOW)

    before = check()
    assert not before.valid and before.checks["issuer_trusted"]["code"] == "untrusted_issuer"
    # Importing needs region B's pinned root key: region A's root does not open B's list.
    with pytest.raises(CredentialError):
        store.import_token(mo.token, gd.root.public_key(), "820000", now=NOW)
    assert not check().valid
    store.import_token(mo.token, mo.root.public_key(), "820000", now=NOW)
    after = check()
    assert after.valid and "820000" in after.checks["issuer_trusted"]["reason"]
    store.remove_region("820000")
    assert check().checks["issuer_trusted"]["code"] == "untrusted_issuer"


# --- malformed input ------------------------------------------------------------------------


def _format_code(text: str | bytes, region: Region) -> str:
    result = _verify(text, region)
    assert not result.valid and result.claims == {}
    assert all(result.checks[name]["code"] == "not_checked" for name in CHECKS[1:])
    return result.checks["format"]["code"]


def test_malformed_qr_text_at_each_stage(gd: Region) -> None:
    good = _issue(gd, "tb1")
    compressed = Q.b45decode(good[4:])
    assert _format_code("HC1:" + good[4:], gd) == "bad_prefix"
    assert _format_code(good[:30] + "~" + good[31:], gd) == "bad_base45"
    assert _format_code("TB1:" + Q.b45encode(compressed[:-5]), gd) == "bad_zlib"
    assert _format_code("TB1:" + Q.b45encode(zlib.compress(bytes(1024 * 1024))), gd) == "too_large"
    assert _format_code("TB1:" + Q.b45encode(zlib.compress(b"\xff")), gd) == "bad_cbor"
    assert _format_code("TB1:" + Q.b45encode(zlib.compress(b"\x83\x01\x02\x03")), gd) == "bad_cose"
    bad_claims = Q.cose_sign1(b"\xa0", gd.key)  # an empty claim map, well signed
    assert _format_code("TB1:" + Q.b45encode(zlib.compress(bad_claims)), gd) == "bad_claims"
    # Each stage has its own wording in both languages.
    reasons = {_verify(t, gd).checks["format"]["reason_en"] for t in ("HC1:X", "TB1:~", "TB1:" + Q.b45encode(b"x"))}
    assert len(reasons) == 3


def test_malformed_jwt_and_garbage(gd: Region) -> None:
    assert _format_code("eyJhbGciOiJFZERTQSJ9.e30.AA", gd) in {"bad_header", "malformed_jwt"}
    assert _format_code("hello world", gd) == "unrecognised_format"
    assert _format_code("", gd) == "unrecognised_format"
    assert _format_code(b"\xff\xfe", gd) == "unrecognised_format"


def test_oversized_input(gd: Region) -> None:
    assert _format_code("TB1:" + "A" * MAX_INPUT, gd) == "oversized"
    assert _format_code("x" * (MAX_INPUT + 1), gd) == "oversized"
    assert _format_code(b"x" * (MAX_INPUT + 1), gd) == "oversized"
    assert _format_code("证" * (MAX_INPUT // 3 + 1), gd) == "oversized"  # counted in UTF-8 bytes
    result = _verify("x" * (MAX_INPUT + 1), gd)
    assert "过大" in result.checks["format"]["reason_zh"] and "too large" in result.checks["format"]["reason_en"]


def test_every_failure_code_has_its_own_reason(gd: Region) -> None:
    reasons: dict[str, str] = {}
    cases = [
        _verify("x" * (MAX_INPUT + 1), gd),
        _verify(_issue(gd, "vc+jwt", key=Ed25519SigningKey.generate(kid=gd.key.kid)), gd),
        _verify(_issue(Region("650000", ISSUER_B), "vc+jwt"), gd),
        _verify(_issue(gd, "vc+jwt"), gd, now=JAN_2031 + 1),
        _verify(_issue(gd, "vc+jwt"), gd, now=JAN_2026 - 1),
    ]
    gd.revocation.set(94567)
    gd.suspension.set(23452)
    cases.append(_verify(_issue(gd, "vc+jwt"), gd))
    for result in cases:
        for check in result.checks.values():
            if not check["ok"] and check["code"] not in ("not_checked", "no_trusted_key"):
                reasons.setdefault(check["code"], check["reason_en"])
    assert set(reasons) == {"oversized", "bad_signature", "untrusted_issuer", "expired", "not_yet_valid", "revoked",
                            "suspended"}
    assert len(set(reasons.values())) == len(reasons)


# --- SM2 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_sm2_profile_end_to_end(fmt: str) -> None:
    pytest.importorskip("tongsuopy")
    from tongban.credentials.keys import SM2SigningKey

    region = Region("110000", ISSUER_A, key=SM2SigningKey.generate(), name="北京市")
    assert _verify(_issue(region, fmt), region).valid
    region.revocation.set(94567)
    assert _only_failure(_verify(_issue(region, fmt), region)) == ("not_revoked", "revoked")


# --- robustness -----------------------------------------------------------------------------

_GOOD_REGION = Region("440000", ISSUER_A)
_GOOD_JWT = _issue(_GOOD_REGION, "vc+jwt")
_GOOD_QR = _issue(_GOOD_REGION, "tb1")
_STORE = _GOOD_REGION.store()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([_GOOD_JWT, _GOOD_QR]), st.integers(0, 10_000), st.integers(0, 255))
def test_any_single_character_change_is_rejected_without_raising(good: str, position: int, byte: int) -> None:
    position %= len(good)
    replacement = chr(byte)
    if good[position] == replacement:
        return
    mutated = good[:position] + replacement + good[position + 1:]
    result = verify_credential(mutated, _STORE, _GOOD_REGION.status_lookup, NOW)
    if result.valid:  # only an equivalent encoding (e.g. surrounding whitespace) may still pass
        assert mutated.strip() == good
    else:
        assert result.first_failure is not None


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300),
                 st.text(alphabet=Q.B45_ALPHABET, max_size=300).map(lambda t: "TB1:" + t),
                 st.lists(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                                  max_size=60), min_size=3, max_size=3).map(".".join)))
def test_arbitrary_input_never_raises(text: str | bytes) -> None:
    result = verify_credential(text, _STORE, _GOOD_REGION.status_lookup, NOW)
    assert not result.valid and set(result.checks) == set(CHECKS)


# --- status list credentials and the ttl cache ----------------------------------------------


def test_status_list_cache_checks_and_caches_status_list_credentials(gd: Region) -> None:
    clock = [float(NOW)]
    published: dict[str, str] = {}
    fetched: list[str] = []

    def publish() -> None:
        for url, status_list in ((REVOCATION_URL, gd.revocation), (SUSPENSION_URL, gd.suspension)):
            published[url] = issue_vc_jwt(status_list.to_credential(url, ISSUER_A, valid_from=JAN_2026), gd.key)

    def fetch(url: str) -> str:
        fetched.append(url)
        return published[url]

    gd.revocation.ttl_ms = 60_000
    publish()
    store = gd.store()
    cache = StatusListCache(fetch, store, clock=lambda: clock[0])
    text = _issue(gd, "vc+jwt")
    assert verify_credential(text, store, cache, NOW).valid
    assert verify_credential(text, store, cache, NOW).valid
    assert sorted(fetched) == [REVOCATION_URL, SUSPENSION_URL]  # fetched once each, then cached
    gd.revocation.set(94567)
    publish()
    assert verify_credential(text, store, cache, NOW).valid  # still within the cached list's ttl
    clock[0] += 61
    assert _only_failure(verify_credential(text, store, cache, NOW)) == ("not_revoked", "revoked")
    gd.suspension.set(23452)
    publish()
    cache.invalidate(SUSPENSION_URL)
    assert verify_credential(text, store, cache, NOW).checks["not_suspended"]["code"] == "suspended"


def test_status_list_cache_takes_a_credentials_list_only_from_its_region(gd: Region) -> None:
    mo = Region("820000", ISSUER_B, name="澳门")
    store = gd.store()
    store.import_region(mo.trust_list())
    # Region 820000 publishes a list at region 440000's URL: a credential of 440000 must not use it.
    foreign = issue_vc_jwt(mo.revocation.to_credential(REVOCATION_URL, ISSUER_B, valid_from=JAN_2026), mo.key)
    own = {REVOCATION_URL: issue_vc_jwt(gd.revocation.to_credential(REVOCATION_URL, ISSUER_A, valid_from=JAN_2026),
                                        gd.key),
           SUSPENSION_URL: issue_vc_jwt(gd.suspension.to_credential(SUSPENSION_URL, ISSUER_A, valid_from=JAN_2026),
                                        gd.key)}
    served = {**own, REVOCATION_URL: foreign}
    text = _issue(gd, "vc+jwt")
    result = verify_credential(text, store, StatusListCache(served.__getitem__, store), NOW)
    assert _only_failure(result) == ("not_revoked", "status_unavailable")
    assert "region 820000" in result.checks["not_revoked"]["reason_en"]
    cache = StatusListCache(own.__getitem__, store)
    assert verify_credential(text, store, cache, NOW).valid
    # A list cached for one region does not serve another region's credential either.
    mo_text = issue_vc_jwt(credential(issuer=ISSUER_B), mo.key)
    failed = verify_credential(mo_text, store, cache, NOW)
    assert [name for name, check in failed.checks.items() if not check["ok"]] == ["not_revoked", "not_suspended"]
    assert failed.checks["not_revoked"]["code"] == "status_unavailable"


def test_status_list_credentials_are_checked(gd: Region) -> None:
    store = gd.store()
    good = issue_vc_jwt(gd.revocation.to_credential(REVOCATION_URL, ISSUER_A, valid_from=JAN_2026), gd.key)
    assert open_status_list_credential(good, store, url=REVOCATION_URL, now=NOW).size == 131_072
    with pytest.raises(CredentialError, match="says it is"):
        open_status_list_credential(good, store, url=SUSPENSION_URL, now=NOW)
    stranger = Ed25519SigningKey.generate()
    forged = issue_vc_jwt(gd.revocation.to_credential(REVOCATION_URL, ISSUER_A, valid_from=JAN_2026), stranger)
    with pytest.raises(CredentialError) as excinfo:
        open_status_list_credential(forged, store, now=NOW)
    assert excinfo.value.code == "unknown_key"
    expired = issue_vc_jwt(gd.revocation.to_credential(REVOCATION_URL, ISSUER_A, valid_from=JAN_2026,
                                                        valid_until=JAN_2026 + 86400), gd.key)
    with pytest.raises(CredentialError) as excinfo:
        open_status_list_credential(expired, store, now=NOW)
    assert excinfo.value.code == "status_unavailable"
    other_issuer = issue_vc_jwt(gd.revocation.to_credential(REVOCATION_URL, ISSUER_B, valid_from=JAN_2026), gd.key)
    with pytest.raises(CredentialError) as excinfo:
        open_status_list_credential(other_issuer, store, now=NOW)
    assert excinfo.value.code == "issuer_mismatch"

    def unreachable(url: str) -> str:
        raise OSError("connection refused")

    result = verify_credential(_issue(gd, "tb1"), store, StatusListCache(unreachable, store), NOW)
    assert result.checks["not_revoked"]["code"] == "status_unavailable" and "connection refused" in (
        result.checks["not_revoked"]["reason_en"])

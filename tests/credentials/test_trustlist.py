"""Signed trust lists, pinned root keys, and the trust store of local and imported regions."""

from __future__ import annotations

import base64
import json

import pytest

from tongban.credentials.keys import CredentialError, Ed25519SigningKey, UnknownKeyError
from tongban.credentials.trustlist import (
    TRUST_LIST_TYP,
    TrustList,
    build_trust_list,
    issuer_entry,
    open_trust_list,
    sign_trust_list,
)
from tongban.credentials.truststore import TrustStore
from tongban.credentials.vc import issue_vc_jwt

from . import ISSUER_A, ISSUER_B, JAN_2026, JAN_2031, LIST_UNTIL, NOW, Region, credential


def _code(excinfo: pytest.ExceptionInfo[CredentialError]) -> str:
    return excinfo.value.code


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture(scope="module")
def gd() -> Region:
    return Region("440000", ISSUER_A, name="广东省")


@pytest.fixture(scope="module")
def mo() -> Region:
    return Region("820000", ISSUER_B, name="澳门")


def test_sign_and_open(gd: Region) -> None:
    header = json.loads(_unb64(gd.token.split(".")[0]))
    assert header == {"alg": "EdDSA", "kid": gd.root.kid, "typ": TRUST_LIST_TYP}
    trust_list = open_trust_list(gd.token, gd.root.public_key().public_jwk(), region="440000", now=NOW)
    assert (trust_list.region, trust_list.region_name, trust_list.sequence) == ("440000", "广东省", 1)
    assert trust_list.token == gd.token and trust_list.valid_until == LIST_UNTIL
    (entry,) = trust_list.issuers
    assert entry.issuer == ISSUER_A and entry.kid == gd.key.kid and entry.alg == "EdDSA"
    assert entry.department == "广东省市场监管局" and entry.region == "440000"
    assert entry.key.public_jwk() == gd.key.public_key().public_jwk()
    assert entry.may_sign_at(JAN_2026) and not entry.may_sign_at(JAN_2026 - 2 * 86400)
    assert all("d" not in issuer["jwk"] for issuer in trust_list.document["issuers"])  # no private key


def test_wrong_pinned_root_is_rejected(gd: Region, mo: Region) -> None:
    with pytest.raises(CredentialError) as excinfo:
        open_trust_list(gd.token, mo.root.public_key(), now=NOW)
    assert _code(excinfo) == "trust_list_bad_signature"
    # Nor does the issuing key itself stand in for the root.
    with pytest.raises(CredentialError) as excinfo:
        open_trust_list(gd.token, gd.key.public_key(), now=NOW)
    assert _code(excinfo) == "trust_list_bad_signature"


def test_tampered_list_is_rejected(gd: Region, mo: Region) -> None:
    header, payload, signature = gd.token.split(".")
    doc = json.loads(_unb64(payload))
    doc["issuers"].append(issuer_entry("https://evil.example/issuer", mo.key))
    forged_payload = base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()
    with pytest.raises(CredentialError) as excinfo:
        open_trust_list(f"{header}.{forged_payload}.{signature}", gd.root.public_key(), now=NOW)
    assert _code(excinfo) == "trust_list_bad_signature"


def test_wrong_region_expired_and_not_yet_valid(gd: Region) -> None:
    root = gd.root.public_key()
    with pytest.raises(CredentialError) as excinfo:
        open_trust_list(gd.token, root, region="820000", now=NOW)
    assert _code(excinfo) == "trust_list_wrong_region"
    with pytest.raises(CredentialError) as excinfo:
        open_trust_list(gd.token, root, now=LIST_UNTIL + 1)
    assert _code(excinfo) == "trust_list_expired"
    with pytest.raises(CredentialError) as excinfo:
        open_trust_list(gd.token, root, now=JAN_2026 - 3600)
    assert _code(excinfo) == "trust_list_not_yet_valid"


def test_a_credential_is_not_a_trust_list(gd: Region) -> None:
    token = issue_vc_jwt(credential(), gd.root)  # signed by the right key, but typ vc+jwt
    with pytest.raises(CredentialError) as excinfo:
        open_trust_list(token, gd.root.public_key(), now=NOW)
    assert _code(excinfo) == "trust_list_malformed"
    for junk in ("", "a.b.c", "x" * 10):
        with pytest.raises(CredentialError) as excinfo:
            open_trust_list(junk, gd.root.public_key(), now=NOW)
        assert _code(excinfo) == "trust_list_malformed"


@pytest.mark.parametrize(
    "change",
    [
        {"type": "Other"},
        {"version": 2},
        {"region": ""},
        {"valid_until": "2020-01-01T00:00:00Z"},
        {"issued_at": "yesterday"},
        {"issuers": {}},
        {"issuers": [{"issuer": ISSUER_A, "kid": "k", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AA"}}]},
        {"issuers": [{"issuer": ISSUER_A, "kid": "k", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AA"},
                      "valid_from": "soon"}]},
    ],
)
def test_malformed_documents_are_refused_when_signing(gd: Region, change: dict) -> None:
    doc = {**json.loads(_unb64(gd.token.split(".")[1])), **change}
    with pytest.raises(CredentialError) as excinfo:
        sign_trust_list(doc, gd.root)
    assert _code(excinfo) == "trust_list_malformed"


def test_duplicate_kid_and_wrong_alg_in_one_list() -> None:
    key = Ed25519SigningKey.generate()
    entry = issuer_entry(ISSUER_A, key)
    with pytest.raises(CredentialError, match="twice"):
        build_trust_list("440000", [entry, {**entry, "issuer": ISSUER_B}], valid_until=JAN_2031, issued_at=JAN_2026)
    with pytest.raises(CredentialError, match="alg"):
        build_trust_list("440000", [{**entry, "alg": "SM2SM3"}], valid_until=JAN_2031, issued_at=JAN_2026)


def test_store_import_resolve_remove(gd: Region, mo: Region) -> None:
    store = gd.store()
    assert store.resolve_key(gd.key.kid).kid == gd.key.kid
    assert store.lookup(mo.key.kid) is None
    with pytest.raises(UnknownKeyError):
        store.resolve_key(mo.key.kid)
    imported = store.import_token(mo.token, mo.root.public_key(), "820000", now=NOW)
    assert store.regions() == ["820000"] and store.region_list("820000") is imported
    assert store.issuer_for(mo.key.kid).issuer == ISSUER_B and len(store) == 2
    assert store.remove_region("820000") is True
    assert store.remove_region("820000") is False
    assert store.lookup(mo.key.kid) is None and store.regions() == []
    assert store.lookup(gd.key.kid) is not None  # the local list stays


def test_store_refuses_conflicts(gd: Region, mo: Region) -> None:
    store = gd.store()
    # A region may not claim the local region's code...
    with pytest.raises(CredentialError) as excinfo:
        store.import_region(gd.trust_list())
    assert _code(excinfo) == "trust_list_conflict"
    # ...nor another region's issuer id (which would let it sign in that issuer's name)...
    impostor = Region("810000", ISSUER_A)
    with pytest.raises(CredentialError) as excinfo:
        store.import_region(impostor.trust_list())
    assert _code(excinfo) == "trust_list_conflict"
    # ...nor a key already trusted for another region.
    copycat = Region("810000", "https://hk.tongban.example/issuers/x", key=mo.key)
    store.import_region(mo.trust_list())
    with pytest.raises(CredentialError) as excinfo:
        store.import_region(copycat.trust_list())
    assert _code(excinfo) == "trust_list_conflict"
    # A refused import leaves the store as it was.
    assert store.regions() == ["820000"] and store.lookup(mo.key.kid).region == "820000"


def test_store_replaces_a_region_only_with_a_newer_list(mo: Region) -> None:
    store = TrustStore()
    new_key = Ed25519SigningKey.generate()

    def signed(sequence: int, key: Ed25519SigningKey) -> TrustList:
        doc = build_trust_list("820000", [issuer_entry(ISSUER_B, key)], valid_until=JAN_2031, issued_at=JAN_2026,
                               sequence=sequence)
        return open_trust_list(sign_trust_list(doc, mo.root), mo.root.public_key(), now=NOW)

    store.import_region(signed(5, mo.key))
    store.import_region(signed(6, new_key))  # key rotation: the old key is no longer trusted
    assert store.lookup(mo.key.kid) is None and store.lookup(new_key.kid) is not None
    with pytest.raises(CredentialError) as excinfo:
        store.import_region(signed(4, mo.key))  # a replayed older list
    assert _code(excinfo) == "trust_list_conflict"
    assert store.lookup(new_key.kid) is not None


def test_sm2_root_and_issuer_keys() -> None:
    pytest.importorskip("tongsuopy")
    from tongban.credentials.keys import SM2SigningKey

    root, key = SM2SigningKey.generate(), SM2SigningKey.generate()
    doc = build_trust_list("110000", [issuer_entry("https://bj.example/i", key)], valid_until=JAN_2031,
                           issued_at=JAN_2026)
    trust_list = open_trust_list(sign_trust_list(doc, root), root.public_key().public_jwk(), now=NOW)
    assert trust_list.issuers[0].alg == "SM2SM3" and trust_list.issuers[0].key.public_jwk()["crv"] == "SM2"


def test_status_origins_are_optional_normalised_and_checked() -> None:
    key = Ed25519SigningKey.generate()
    entries = [issuer_entry(ISSUER_A, key)]
    plain = build_trust_list("440000", entries, valid_until=JAN_2031, issued_at=JAN_2026)
    assert "status_origins" not in plain  # lists without the field are what they always were
    assert TrustList.from_document(plain).status_origins == ()
    doc = build_trust_list("440000", entries, valid_until=JAN_2031, issued_at=JAN_2026,
                           status_origins=["HTTPS://GD.Tongban.example:443", "http://127.0.0.1:8000/"])
    assert doc["status_origins"] == ["https://gd.tongban.example", "http://127.0.0.1:8000"]
    root = Ed25519SigningKey.generate()
    opened = open_trust_list(sign_trust_list(doc, root), root.public_key(), now=NOW)
    assert opened.status_origins == ("https://gd.tongban.example", "http://127.0.0.1:8000")
    for bad in (["ftp://gd.example"], ["https://gd.example/status"], ["https://gd.example?x=1"], "https://gd.example",
                ["https://user@gd.example"], ["not a url"], [7]):
        with pytest.raises(CredentialError) as excinfo:
            TrustList.from_document({**plain, "status_origins": bad})
        assert _code(excinfo) == "trust_list_malformed", bad


def test_two_regions_may_not_declare_one_status_origin(gd: Region) -> None:
    def region_list(code: str, issuer: str) -> TrustList:
        root = Ed25519SigningKey.generate()
        doc = build_trust_list(code, [issuer_entry(issuer, Ed25519SigningKey.generate())], valid_until=JAN_2031,
                               issued_at=JAN_2026, status_origins=["https://status.example"])
        return open_trust_list(sign_trust_list(doc, root), root.public_key(), now=NOW)

    store = gd.store()
    store.import_region(region_list("820000", ISSUER_B))
    with pytest.raises(CredentialError) as excinfo:
        store.import_region(region_list("810000", "https://hk.tongban.example/issuers/x"))
    assert _code(excinfo) == "trust_list_conflict"

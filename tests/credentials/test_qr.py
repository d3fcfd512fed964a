"""The TB1: QR text: RFC 9285 base45 vectors, COSE_Sign1, round trips and every malformed stage."""

from __future__ import annotations

import zlib

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tongban.credentials import keys as K
from tongban.credentials import qr as Q

from . import ISSUER_A, qr_claims


def _code(excinfo: pytest.ExceptionInfo[K.CredentialError]) -> str:
    return excinfo.value.code


def _text(data: bytes) -> str:
    return Q.PREFIX + Q.b45encode(data)


def _decode(text: str, key: K.SigningKey) -> dict:
    return Q.decode_qr_text(text, {key.kid: key.public_key()}.get)


def _fails(text: str, key: K.SigningKey | None = None) -> str:
    key = key or K.Ed25519SigningKey.generate()
    with pytest.raises(K.CredentialError) as excinfo:
        _decode(text, key)
    return _code(excinfo)


# --- base45 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "encoded"),
    # RFC 9285 sections 4.3 and 4.4.
    [(b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"), (b"base-45", "UJCLQE7W581"), (b"ietf!", "QED8WEX0"), (b"", "")],
)
def test_base45_rfc9285_examples(raw: bytes, encoded: str) -> None:
    assert Q.b45encode(raw) == encoded
    assert Q.b45decode(encoded) == raw


@pytest.mark.parametrize("bad", ["GGW", "::", "A", "BB8A", "bb8", "BB8\n", "ÄBC"])
def test_base45_rejects_invalid_input(bad: str) -> None:
    with pytest.raises(ValueError):
        Q.b45decode(bad)


@given(st.binary(max_size=300))
def test_base45_round_trip(data: bytes) -> None:
    text = Q.b45encode(data)
    assert set(text) <= set(Q.B45_ALPHABET)
    assert Q.b45decode(text) == data


# --- round trips --------------------------------------------------------------------------


def test_round_trip() -> None:
    key = K.Ed25519SigningKey.generate()
    text = Q.encode_qr_text(qr_claims(), key)
    assert text.startswith("TB1:") and set(text[4:]) <= set(Q.B45_ALPHABET)
    assert _decode(text, key) == qr_claims()
    assert len(text) < 700  # fits a version-15-ish QR at level Q


def test_minimal_claims_round_trip() -> None:
    key = K.Ed25519SigningKey.generate()
    claims = {"id": "urn:uuid:1", "issuer": ISSUER_A, "type": "health_code", "valid_from": 1767225600}
    assert _decode(Q.encode_qr_text(claims, key), key) == {
        **claims, "valid_until": None, "issued_at": None, "subject_id": None, "subject": {}, "status": []}


def test_cose_structure_follows_rfc9052() -> None:
    key = K.Ed25519SigningKey.generate()
    cose = zlib.decompress(Q.b45decode(Q.encode_qr_text(qr_claims(), key)[4:]))
    item = cbor2.loads(cose)
    assert item.tag == 18
    protected, unprotected, payload, signature = item.value
    assert cbor2.loads(protected) == {1: -8, 4: key.kid.encode()}
    assert dict(unprotected) == {}
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", payload])
    assert key.public_key().verify(to_be_signed, signature)
    claims = cbor2.loads(payload)
    assert claims[1] == ISSUER_A and claims[5] == qr_claims()["valid_from"] and claims[7] == qr_claims()["id"].encode()
    assert claims[-65537][1] == "business_licence" and claims[-65537][3][0] == [0, 94567, qr_claims()["status"][0]["list"]]


def test_sm2_round_trip() -> None:
    pytest.importorskip("tongsuopy")
    key = K.SM2SigningKey.generate()
    text = Q.encode_qr_text(qr_claims(), key)
    assert cbor2.loads(cbor2.loads(zlib.decompress(Q.b45decode(text[4:]))).value[0])[1] == -65537
    assert _decode(text, key) == qr_claims()
    with pytest.raises(K.CredentialError) as excinfo:
        Q.decode_qr_text(text, lambda kid: K.Ed25519SigningKey.generate().public_key())
    assert _code(excinfo) == "alg_mismatch"


@pytest.mark.parametrize(
    "change",
    [{"id": ""}, {"issuer": None}, {"valid_from": "2026-01-01"}, {"valid_from": 1.5}, {"valid_until": 1},
     {"subject": {"nested": {"a": 1}}}, {"status": [{"purpose": "message", "index": 1, "list": "https://x"}]},
     {"status": [{"purpose": "revocation", "index": -1, "list": "https://x"}]}, {"extra": 1}],
)
def test_encode_refuses_bad_claims(change: dict) -> None:
    with pytest.raises(K.CredentialError):
        Q.encode_qr_text(qr_claims(**change), K.Ed25519SigningKey.generate())


def test_images() -> None:
    text = Q.encode_qr_text(qr_claims(), K.Ed25519SigningKey.generate())
    svg = Q.qr_svg(text)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert Q.qr_png(text).startswith(b"\x89PNG\r\n\x1a\n")


# --- every malformed stage has its own code -----------------------------------------------


def _signed_cose(payload: bytes, key: K.SigningKey) -> bytes:
    return Q.cose_sign1(payload, key)


def test_bad_prefix() -> None:
    good = Q.encode_qr_text(qr_claims(), K.Ed25519SigningKey.generate())
    assert _fails("HC1:" + good[4:]) == "bad_prefix"
    assert _fails(good[4:]) == "bad_prefix"
    assert _fails("tb1:" + good[4:]) == "bad_prefix"


def test_bad_base45() -> None:
    good = Q.encode_qr_text(qr_claims(), K.Ed25519SigningKey.generate())
    assert _fails(good[:20] + "a" + good[21:]) == "bad_base45"  # lower case is not base45
    body = good[4:]
    assert _fails("TB1:" + body[: len(body) // 3 * 3] + "A") == "bad_base45"  # a dangling character
    assert _fails("TB1:GGW") == "bad_base45"


def test_bad_zlib() -> None:
    key = K.Ed25519SigningKey.generate()
    cose = _signed_cose(cbor2.dumps({}), key)
    assert _fails(_text(cose), key) == "bad_zlib"  # not compressed at all
    assert _fails(_text(zlib.compress(cose)[:-3]), key) == "bad_zlib"  # truncated
    assert _fails(_text(zlib.compress(cose) + b"junk"), key) == "bad_zlib"  # trailing bytes


def test_decompression_bomb_is_refused_without_inflating_it() -> None:
    bomb = zlib.compress(bytes(4 * 1024 * 1024), 9)  # 4 MiB of zeros in about 4 KiB
    text = _text(bomb)
    assert len(text) < Q.MAX_TEXT
    assert _fails(text) == "too_large"


def test_oversized_text() -> None:
    assert _fails("TB1:" + "0" * Q.MAX_TEXT) == "oversized"


def test_bad_cbor() -> None:
    assert _fails(_text(zlib.compress(b"\xff\xff"))) == "bad_cbor"
    key = K.Ed25519SigningKey.generate()
    assert _fails(_text(zlib.compress(_signed_cose(cbor2.dumps({}), key) + b"\x00")), key) == "bad_cbor"
    deep = b"\x81" * 100 + b"\x00"  # arrays nested 100 deep
    assert _fails(_text(zlib.compress(deep))) == "bad_cbor"


@pytest.mark.parametrize(
    "item",
    [
        [b"", {}, b""],  # three elements
        cbor2.CBORTag(98, [b"", {}, b"", b""]),  # COSE_Sign, not COSE_Sign1
        [cbor2.dumps({1: -8}), {}, b"x", b"sig"],  # no kid
        [cbor2.dumps({4: b"k"}), {}, b"x", b"sig"],  # no alg
        [cbor2.dumps({1: -8, 4: b"k", 2: [1]}), {}, b"x", b"sig"],  # crit
        [cbor2.dumps({1: -8, 4: b"k"}), {4: b"k"}, b"x", b"sig"],  # kid in both buckets
        [cbor2.dumps({1: -8, 4: b"k"}), {}, None, b"sig"],  # detached payload
        [cbor2.dumps([1, 2]), {}, b"x", b"sig"],  # protected header not a map
        [cbor2.dumps({1: -8, 4: b"\xff"}), {}, b"x", b"sig"],  # kid not UTF-8
        "text",
    ],
)
def test_bad_cose(item: object) -> None:
    assert _fails(_text(zlib.compress(cbor2.dumps(item)))) == "bad_cose"


@pytest.mark.parametrize(
    "claims",
    [
        [1, 2],
        {1: ISSUER_A, 5: 1767225600, 7: b"urn:x"},  # no tongban claim
        {1: ISSUER_A, 5: "2026", 7: b"urn:x", -65537: {1: "t"}},
        {1: ISSUER_A, 5: 1767225600, 7: "urn:x", -65537: {1: "t"}},  # cti as text
        {1: ISSUER_A, 5: 1767225600, 7: b"urn:x", 4: 1, -65537: {1: "t"}},  # exp before nbf
        {1: ISSUER_A, 5: 1767225600, 7: b"urn:x", -65537: {1: "t", 3: 5}},  # status not an array
        {1: ISSUER_A, 5: 1767225600, 7: b"urn:x", -65537: {1: "t", 3: [[2, 1, "https://x"]]}},
        {1: ISSUER_A, 5: 1767225600, 7: b"urn:x", -65537: {1: "t", 3: [[True, 1, "https://x"]]}},
        {1: ISSUER_A, 5: True, 7: b"urn:x", -65537: {1: "t"}},  # a boolean is not an int
        {1: ISSUER_A, 5: 1767225600, 7: b"urn:x", -65537: {1: "t", 2: {"a": [1]}}},
    ],
)
def test_bad_claims_with_a_good_signature(claims: object) -> None:
    key = K.Ed25519SigningKey.generate()
    assert _fails(_text(zlib.compress(_signed_cose(cbor2.dumps(claims), key))), key) == "bad_claims"


def test_unknown_kid_wrong_key_and_tampering() -> None:
    key = K.Ed25519SigningKey.generate()
    text = Q.encode_qr_text(qr_claims(), key)
    with pytest.raises(K.UnknownKeyError):
        Q.decode_qr_text(text, {}.get)
    assert _fails(text, K.Ed25519SigningKey.generate(kid=key.kid)) == "bad_signature"
    # Change the valid_until claim inside the signed message without re-signing.
    item = cbor2.loads(zlib.decompress(Q.b45decode(text[4:])))
    protected, unprotected, payload, signature = item.value
    claims = dict(cbor2.loads(payload))
    claims[4] += 10 * 365 * 86400
    forged = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, cbor2.dumps(claims), signature]))
    assert _fails(_text(zlib.compress(forged)), key) == "bad_signature"
    # A COSE alg the key does not use.
    other = cbor2.dumps(cbor2.CBORTag(18, [cbor2.dumps({1: -7, 4: key.kid.encode()}), {}, payload, signature]))
    assert _fails(_text(zlib.compress(other)), key) == "alg_mismatch"

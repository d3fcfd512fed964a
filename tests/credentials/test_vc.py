"""Keys and VC-JOSE (application/vc+jwt): RFC 8037 vectors, round trips and each decoding error."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jwk as jose_jwk

from tongban.credentials import keys as K
from tongban.credentials.vc import (
    VC_V2_CONTEXT,
    decode_vc_jwt,
    issue_vc_jwt,
    parse_datetime,
    parse_vc_jwt,
    status_entries,
    validate_credential,
)

from . import credential

# RFC 8037 appendix A.1-A.4: the Ed25519 key, its thumbprint, and the signature of a JWS.
RFC8037_JWK = {
    "kty": "OKP",
    "crv": "Ed25519",
    "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
}
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
RFC8037_JWS = (
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _code(excinfo: pytest.ExceptionInfo[K.CredentialError]) -> str:
    return excinfo.value.code


# --- keys ---------------------------------------------------------------------------------


def test_rfc8037_vectors() -> None:
    key = K.signing_key_from_jwk(RFC8037_JWK)
    assert key.kid == RFC8037_THUMBPRINT == K.jwk_thumbprint(RFC8037_JWK)
    signing_input, signature = RFC8037_JWS.rsplit(".", 1)
    assert K.b64url_encode(key.sign(signing_input.encode())) == signature  # Ed25519 is deterministic
    assert key.public_key().verify(signing_input.encode(), _unb64(signature))
    assert not key.public_key().verify(signing_input.encode() + b"x", _unb64(signature))


def test_thumbprint_kid_agrees_with_joserfc() -> None:
    key = K.Ed25519SigningKey.generate()
    assert key.kid == jose_jwk.OKPKey.import_key(key.public_key().public_jwk()).thumbprint()


def test_jwk_round_trips_and_never_leaks_the_private_key() -> None:
    key = K.Ed25519SigningKey.generate(kid="gd-market-2026")
    public = key.public_key().public_jwk()
    assert "d" not in public and public["kid"] == "gd-market-2026" and public["alg"] == "EdDSA"
    assert K.public_key_from_jwk(public).kid == "gd-market-2026"
    again = K.signing_key_from_jwk(key.private_jwk())
    assert again.kid == key.kid and again.sign(b"m") == key.sign(b"m")
    with pytest.raises(K.CredentialError):
        K.public_key_from_jwk(key.private_jwk())
    with pytest.raises(K.CredentialError):
        K.public_key_from_jwk({"kty": "RSA", "n": "AQAB", "e": "AQAB"})
    with pytest.raises(K.CredentialError):
        K.public_key_from_jwk({"kty": "OKP", "crv": "Ed25519", "x": "short"})
    with pytest.raises(K.CredentialError):
        K.signing_key_from_jwk({**key.private_jwk(), "x": K.Ed25519SigningKey.generate().public_key().public_jwk()["x"]})


def test_strict_base64url() -> None:
    assert K.b64url_decode("AQ") == b"\x01"
    for bad in ("AQ==", "AR", "A", "A+B/", "A B"):
        with pytest.raises(ValueError):
            K.b64url_decode(bad)


def test_pem_round_trip_through_the_ledger_keystore_format() -> None:
    key = K.Ed25519SigningKey.generate()
    again = K.signing_key_from_pem(K.signing_key_to_pem(key, b"pw"), b"pw")
    assert again.kid == key.kid


# --- VC-JWT --------------------------------------------------------------------------------


def test_round_trip_and_header() -> None:
    key = K.Ed25519SigningKey.generate()
    token = issue_vc_jwt(credential(), key)
    header_segment, payload_segment, _ = token.split(".")
    header = json.loads(_unb64(header_segment))
    assert header == {"alg": "EdDSA", "kid": key.kid, "typ": "vc+jwt", "cty": "vc"}
    # The JWS payload is the credential itself (no "vc" claim).
    assert json.loads(_unb64(payload_segment)) == credential()
    assert decode_vc_jwt(token, {key.kid: key.public_key()}.get) == credential()


def test_rfc9864_ed25519_algorithm_name() -> None:
    key = K.Ed25519SigningKey.generate(alg="Ed25519")
    token = issue_vc_jwt(credential(), key)
    assert json.loads(_unb64(token.split(".")[0]))["alg"] == "Ed25519"
    # The same key published as EdDSA still verifies Ed25519-labelled tokens: one algorithm, two names.
    public = K.Ed25519VerifyKey(key.public_key()._key, key.kid)
    assert decode_vc_jwt(token, {key.kid: public}.get)["id"] == credential()["id"]


@pytest.mark.parametrize(
    ("change", "fault"),
    [
        ({"@context": ["https://www.w3.org/2018/credentials/v1"]}, "@context"),
        ({"@context": VC_V2_CONTEXT}, "@context"),
        ({"type": ["BusinessLicenceCredential"]}, "VerifiableCredential"),
        ({"issuer": None}, "issuer"),
        ({"issuer": "not a url"}, "issuer"),
        ({"issuer": {"name": "no id"}}, "issuer"),
        ({"validFrom": None}, "validFrom"),
        ({"validFrom": "2026-01-01"}, "validFrom"),
        ({"validFrom": "2026-01-01T00:00:00"}, "validFrom"),  # no time zone
        ({"validUntil": "2025-01-01T00:00:00Z"}, "before validFrom"),
        ({"credentialSubject": {}}, "credentialSubject"),
        ({"credentialSubject": None}, "credentialSubject"),
        ({"vc": {"a": 1}}, "vc and vp"),
        ({"credentialStatus": {"type": "BitstringStatusListEntry", "statusPurpose": "revocation",
                               "statusListIndex": 5, "statusListCredential": "https://x.example/1"}},
         "statusListIndex"),
        ({"credentialStatus": {"type": "BitstringStatusListEntry", "statusPurpose": "revocation",
                               "statusListIndex": "05", "statusListCredential": "https://x.example/1"}},
         "statusListIndex"),
    ],
)
def test_issue_refuses_what_the_data_model_forbids(change: dict, fault: str) -> None:
    with pytest.raises(K.CredentialError, match=fault) as excinfo:
        issue_vc_jwt(credential(**change), K.Ed25519SigningKey.generate())
    assert _code(excinfo) == "invalid_credential"


def test_status_entries_and_dates() -> None:
    info = validate_credential(credential())
    assert [(e.purpose, e.index) for e in status_entries(credential())] == [("revocation", 94567),
                                                                             ("suspension", 23452)]
    assert info.valid_from == parse_datetime("2026-01-01T08:00:00+08:00") == 1767225600
    assert info.valid_until == 1924992000
    assert validate_credential(credential(credentialStatus=None, validUntil=None)).valid_until is None


def _token_with(key: K.SigningKey, header: dict | None = None, payload: bytes | None = None) -> str:
    header = header or {"alg": key.alg, "kid": key.kid, "typ": "vc+jwt", "cty": "vc"}
    payload = payload if payload is not None else json.dumps(credential()).encode()
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(payload)}"
    return f"{signing_input}.{_b64(key.sign(signing_input.encode()))}"


def test_tampered_payload_fails_the_signature() -> None:
    key = K.Ed25519SigningKey.generate()
    header, payload, signature = issue_vc_jwt(credential(), key).split(".")
    raw = bytearray(_unb64(payload))
    at = raw.index("深圳".encode())
    raw[at + 2] ^= 0x01  # one bit of the company name: still UTF-8 and still valid JSON
    tampered = f"{header}.{_b64(bytes(raw))}.{signature}"
    assert parse_vc_jwt(tampered).credential["credentialSubject"]["name"] != "深圳示例科技有限公司"
    with pytest.raises(K.CredentialError) as excinfo:
        decode_vc_jwt(tampered, {key.kid: key.public_key()}.get)
    assert _code(excinfo) == "bad_signature"


def test_wrong_key_and_unknown_kid() -> None:
    key, other = K.Ed25519SigningKey.generate(), K.Ed25519SigningKey.generate()
    token = issue_vc_jwt(credential(), key)
    with pytest.raises(K.CredentialError) as excinfo:
        decode_vc_jwt(token, lambda kid: other.public_key())
    assert _code(excinfo) == "bad_signature"
    with pytest.raises(K.CredentialError) as excinfo:
        decode_vc_jwt(token, {}.get)
    assert _code(excinfo) == "unknown_key"
    with pytest.raises(K.UnknownKeyError):
        decode_vc_jwt(token, {}.__getitem__)  # a KeyError from resolve_key means unknown too


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ({"alg": "EdDSA", "kid": "k", "typ": "tongban-trust-list+jwt"}, "bad_header"),
        ({"alg": "EdDSA", "kid": "k"}, "bad_header"),
        ({"alg": "EdDSA", "kid": "k", "typ": "vc+jwt", "cty": "json"}, "bad_header"),
        ({"alg": "EdDSA", "typ": "vc+jwt"}, "bad_header"),
        ({"alg": "EdDSA", "kid": "k", "typ": "vc+jwt", "b64": False}, "bad_header"),
        ({"alg": "EdDSA", "kid": "k", "typ": "vc+jwt", "crit": ["exp"]}, "bad_header"),
        ({"alg": "EdDSA", "kid": "k", "typ": "vc+jwt", "jwk": RFC8037_JWK}, "bad_header"),
        ({"alg": "none", "kid": "k", "typ": "vc+jwt"}, "unsupported_alg"),
        ({"alg": "HS256", "kid": "k", "typ": "vc+jwt"}, "unsupported_alg"),
    ],
)
def test_headers_are_checked(header: dict, code: str) -> None:
    key = K.Ed25519SigningKey.generate(kid="k")
    with pytest.raises(K.CredentialError) as excinfo:
        decode_vc_jwt(_token_with(key, header), {"k": key.public_key()}.get)
    assert _code(excinfo) == code


@pytest.mark.parametrize(
    "token",
    ["", "a.b", "a.b.c.d", "eyJhbGciOiJFZERTQSJ9.%%%.sig", "bm90IGpzb24.e30.AA", "W10.e30.AA", "ü.e30.AA"],
)
def test_malformed_tokens(token: str) -> None:
    with pytest.raises(K.CredentialError) as excinfo:
        decode_vc_jwt(token, {}.get)
    assert _code(excinfo) in {"malformed_jwt", "bad_header"}


def test_payload_must_be_a_credential() -> None:
    key = K.Ed25519SigningKey.generate()
    for payload, code in ((b"[1, 2]", "invalid_credential"), (b"not json", "malformed_jwt"),
                          (b"[" * 5000 + b"]" * 5000, "malformed_jwt")):
        with pytest.raises(K.CredentialError) as excinfo:
            decode_vc_jwt(_token_with(key, payload=payload), {key.kid: key.public_key()}.get)
        assert _code(excinfo) == code


def test_oversized_token() -> None:
    with pytest.raises(K.CredentialError) as excinfo:
        parse_vc_jwt("a" * 20000 + ".b.c")
    assert _code(excinfo) == "oversized"
    big = credential(credentialSubject={"id": "urn:x:1", "blob": "x" * 20000})
    with pytest.raises(K.CredentialError) as excinfo:
        issue_vc_jwt(big, K.Ed25519SigningKey.generate())
    assert _code(excinfo) == "oversized"


# --- SM2 (private national-crypto profile) ------------------------------------------------


def test_sm2_round_trip() -> None:
    pytest.importorskip("tongsuopy")
    key = K.SM2SigningKey.generate()
    token = issue_vc_jwt(credential(), key)
    header = json.loads(_unb64(token.split(".")[0]))
    assert header["alg"] == "SM2SM3" and header["kid"] == key.kid
    public = K.public_key_from_jwk(key.public_key().public_jwk())
    assert public.public_jwk()["crv"] == "SM2"
    assert decode_vc_jwt(token, {key.kid: public}.get) == credential()
    assert K.signing_key_from_jwk(key.private_jwk()).kid == key.kid
    # An Ed25519 key under the same kid is the wrong algorithm, not merely a bad signature.
    with pytest.raises(K.CredentialError) as excinfo:
        decode_vc_jwt(token, lambda kid: K.Ed25519SigningKey.generate().public_key())
    assert _code(excinfo) == "alg_mismatch"
    with pytest.raises(K.CredentialError) as excinfo:
        decode_vc_jwt(token, lambda kid: K.SM2SigningKey.generate().public_key())
    assert _code(excinfo) == "bad_signature"


def test_sm2_signatures_interoperate_with_gmssl() -> None:
    """gmssl, an unrelated pure-Python SM2, checks our JWS signature (SM3(Z_A || M), default ID)."""
    pytest.importorskip("tongsuopy")
    sm2 = pytest.importorskip("gmssl.sm2")
    key = K.SM2SigningKey.generate()
    token = issue_vc_jwt(credential(), key)
    signing_input, signature = token.rsplit(".", 1)
    jwk = key.private_jwk()
    other = sm2.CryptSM2(private_key=_unb64(jwk["d"]).hex(), public_key=(_unb64(jwk["x"]) + _unb64(jwk["y"])).hex())
    assert other.verify_with_sm3(_unb64(signature).hex(), signing_input.encode())
    theirs = bytes.fromhex(other.sign_with_sm3(signing_input.encode(), f"{0x1234567890ABCDEF:064x}"))
    assert key.public_key().verify(signing_input.encode(), theirs)


def test_sm2_pem_round_trip() -> None:
    pytest.importorskip("tongsuopy")
    key = K.SM2SigningKey.generate()
    assert K.signing_key_from_pem(K.signing_key_to_pem(key)).kid == key.kid


# --- our hot-path parser against joserfc ----------------------------------------------------


def test_joserfc_reads_our_tokens_and_we_read_joserfcs() -> None:
    from joserfc import jws

    key = K.Ed25519SigningKey.generate()
    token = issue_vc_jwt(credential(), key)
    obj = jws.deserialize_compact(token, key.public_key().jose_key, registry=K.JWS_REGISTRY)
    assert json.loads(obj.payload) == credential() and obj.headers()["typ"] == "vc+jwt"
    theirs = jws.serialize_compact({"alg": "EdDSA", "kid": key.kid, "typ": "vc+jwt"},
                                   json.dumps(credential(), ensure_ascii=False), key.jose_key, registry=K.JWS_REGISTRY)
    assert decode_vc_jwt(theirs, {key.kid: key.public_key()}.get) == credential()


_KEY = K.Ed25519SigningKey.generate()
_TOKEN = issue_vc_jwt(credential(), _KEY)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from("AQgw_-=.+/ \nzZ9é"))
def test_whatever_we_accept_joserfc_accepts(position: int, char: str) -> None:
    from joserfc import jws
    from joserfc.errors import JoseError

    position %= len(_TOKEN)
    mutated = _TOKEN[:position] + char + _TOKEN[position + 1:]
    try:
        ours = decode_vc_jwt(mutated, {_KEY.kid: _KEY.public_key()}.get)
    except K.CredentialError:
        return
    obj = jws.deserialize_compact(mutated, _KEY.public_key().jose_key, registry=K.JWS_REGISTRY)
    assert not isinstance(obj, JoseError) and json.loads(obj.payload) == ours

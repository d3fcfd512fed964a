"""W3C Bitstring Status List v1.0: the spec's own example, bit order, sizes and GZIP bombs."""

from __future__ import annotations

import base64
import gzip
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tongban.credentials.keys import CredentialError
from tongban.credentials.statuslist import MIN_ENTRIES, StatusList, gunzip_bounded, status_entry

# "Example BitstringStatusListCredential" of the W3C Recommendation: 131,072 entries, none set.
SPEC_ENCODED_LIST = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"


def _encoded(raw: bytes) -> str:
    return "u" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _code(excinfo: pytest.ExceptionInfo[CredentialError]) -> str:
    return excinfo.value.code


def test_the_spec_example_decodes_to_131072_unset_entries() -> None:
    status_list = StatusList.decode(SPEC_ENCODED_LIST)
    assert status_list.size == MIN_ENTRIES == 131_072
    assert not any(status_list.get(i) for i in range(0, MIN_ENTRIES, 97))
    assert list(status_list.set_indices()) == []


def test_an_empty_list_encodes_exactly_as_the_spec_example() -> None:
    # GZIP with mtime 0 and zlib's default level reproduces the spec's bytes (same zlib stream).
    assert StatusList().encode() == SPEC_ENCODED_LIST


def test_bit_order_is_left_most_first() -> None:
    status_list = StatusList()
    status_list.set(0)
    status_list.set(9)
    status_list.set(MIN_ENTRIES - 1)
    raw = status_list.to_bytes()
    assert raw[0] == 0x80 and raw[1] == 0x40 and raw[-1] == 0x01
    decoded = gzip.decompress(base64.urlsafe_b64decode(status_list.encode()[1:] + "=="))
    assert decoded == raw and len(decoded) == 16 * 1024


def test_set_get_clear_and_range() -> None:
    status_list = StatusList(purpose="suspension")
    status_list.set(94567)
    assert status_list.get(94567) and not status_list.get(94566) and not status_list.get(94568)
    status_list.clear(94567)
    assert not status_list.get(94567)
    for bad in (-1, MIN_ENTRIES, True, "5"):
        with pytest.raises(CredentialError) as excinfo:
            status_list.get(bad)  # type: ignore[arg-type]
        assert _code(excinfo) == "status_index_out_of_range"


@settings(max_examples=25, deadline=None)
@given(st.sets(st.integers(0, MIN_ENTRIES - 1), max_size=300))
def test_round_trip(indices: set[int]) -> None:
    status_list = StatusList()
    for i in indices:
        status_list.set(i)
    again = StatusList.decode(status_list.encode())
    assert set(again.set_indices()) == indices
    assert again.to_bytes() == status_list.to_bytes()


def test_larger_lists_and_sizes() -> None:
    big = StatusList(size=MIN_ENTRIES * 8)
    big.set(MIN_ENTRIES * 8 - 1)
    assert StatusList.decode(big.encode()).get(MIN_ENTRIES * 8 - 1)
    with pytest.raises(CredentialError) as excinfo:
        StatusList(size=MIN_ENTRIES - 8)
    assert _code(excinfo) == "status_list_length"
    with pytest.raises(CredentialError):
        StatusList(size=MIN_ENTRIES + 1)  # not a whole number of bytes


def test_a_list_under_the_minimum_is_a_length_error() -> None:
    short = _encoded(gzip.compress(bytes(16 * 1024 - 1), mtime=0))
    with pytest.raises(CredentialError) as excinfo:
        StatusList.decode(short)
    assert _code(excinfo) == "status_list_length"
    assert StatusList.decode(short, min_entries=8).size == (16 * 1024 - 1) * 8  # an ecosystem's lower bound


@pytest.mark.parametrize(
    "encoded",
    [
        SPEC_ENCODED_LIST[1:],  # no multibase prefix
        "z" + SPEC_ENCODED_LIST[1:],  # base58btc prefix
        SPEC_ENCODED_LIST + "==",  # padding
        "u" + "%%%%",
        _encoded(zlib.compress(bytes(16 * 1024))),  # zlib, not GZIP
        _encoded(gzip.compress(bytes(16 * 1024), mtime=0)[:-4]),  # truncated
        _encoded(gzip.compress(bytes(16 * 1024), mtime=0) + b"junk"),
        _encoded(gzip.compress(bytes(16 * 1024), mtime=0) * 2),  # two members
    ],
)
def test_malformed_encoded_lists(encoded: str) -> None:
    with pytest.raises(CredentialError) as excinfo:
        StatusList.decode(encoded)
    assert _code(excinfo) == "status_list_malformed"


def test_gzip_bomb_is_refused_without_inflating_it() -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1024 * 1024)
    bomb = b"".join(compressor.compress(chunk) for _ in range(64)) + compressor.flush()  # 64 MiB → ~64 KiB
    with pytest.raises(CredentialError) as excinfo:
        StatusList.decode(_encoded(bomb))
    assert _code(excinfo) == "too_large"
    with pytest.raises(CredentialError):
        gunzip_bounded(gzip.compress(bytes(1025)), max_bytes=1024)


def test_status_list_credential_round_trip() -> None:
    status_list = StatusList(purpose="revocation", ttl_ms=60_000)
    status_list.set(42)
    credential = status_list.to_credential("https://gd.example/status/1", "https://gd.example/issuers/market",
                                           valid_from=1767225600)
    assert credential["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert credential["validFrom"] == "2026-01-01T00:00:00Z"
    subject = credential["credentialSubject"]
    assert subject == {"id": "https://gd.example/status/1#list", "type": "BitstringStatusList",
                       "statusPurpose": "revocation", "encodedList": status_list.encode(), "ttl": 60_000}
    again = StatusList.from_credential(credential)
    assert again.get(42) and again.purposes == ("revocation",) and again.ttl_ms == 60_000
    both = StatusList(purpose=["revocation", "suspension"])
    assert StatusList.from_credential(both.to_credential("https://x.example/s", "https://x.example/i")).purposes == (
        "revocation", "suspension")


@pytest.mark.parametrize(
    "change",
    [{"type": ["VerifiableCredential"]}, {"credentialSubject": {"type": "StatusList2021"}}],
)
def test_from_credential_checks_the_types(change: dict) -> None:
    credential = {**StatusList().to_credential("https://x.example/s", "https://x.example/i"), **change}
    with pytest.raises(CredentialError):
        StatusList.from_credential(credential)


def test_status_entry() -> None:
    assert status_entry("suspension", 23452, "https://example.com/credentials/status/4") == {
        "id": "https://example.com/credentials/status/4#23452",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "suspension",
        "statusListIndex": "23452",
        "statusListCredential": "https://example.com/credentials/status/4",
    }
    with pytest.raises(CredentialError):
        status_entry("message", 1, "https://x.example/s")

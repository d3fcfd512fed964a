"""RFC 8785 canonical JSON (against the RFC's own examples) and keyed subject hashes."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
import rfc8785

from tongban.ledger.canonical import canonical_json, keyed_subject_hash, normalise_identifier

SECRET = b"0123456789abcdef0123456789abcdef"


def test_rfc8785_section_3_2_example() -> None:
    source = (
        r'{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        r' "string": "\u20ac$\u000F\u000aA'
        "'"
        r'\u0042\u0022\u005c\\\"\/", "literals": [null, true, false]}'
    )
    expected = (
        r'{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        r'"string":"€$\u000f\nA'
        "'"
        r'B\"\\\\\"/"}'
    )
    assert canonical_json(json.loads(source)) == expected.encode("utf-8")


def test_keys_sort_by_utf16_code_units() -> None:
    # RFC 8785 section 3.2.3: the emoji (a surrogate pair, 0xD83D...) sorts before U+FB33.
    obj = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    keys = list(json.loads(canonical_json(obj)))
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_canonical_json_is_order_independent_and_strict() -> None:
    assert canonical_json({"b": [1, {"d": 2, "c": 1}], "a": "x"}) == canonical_json(
        {"a": "x", "b": [1, {"c": 1, "d": 2}]}
    )
    assert canonical_json({"b": 1.0, "a": None}) == b'{"a":null,"b":1}'
    for bad in ({"x": float("nan")}, {"x": 2**53 + 1}, {1: "non-string key"}):
        with pytest.raises(rfc8785.CanonicalizationError):
            canonical_json(bad)


def test_keyed_subject_hash() -> None:
    ident = "11010519491231002X"
    expected = hmac.new(SECRET, ident.encode(), hashlib.sha256).hexdigest()
    assert keyed_subject_hash(SECRET, ident) == expected
    assert keyed_subject_hash(SECRET, "  11010519491231002x\n") == expected
    assert (
        keyed_subject_hash(SECRET, "１１０１０５１９４９１２３１００２ｘ") == expected
    )  # full-width IME input
    assert normalise_identifier(" ａb ") == "AB"
    assert keyed_subject_hash(SECRET[::-1], ident) != expected
    assert keyed_subject_hash(SECRET, "110105194912310021") != expected
    assert len(expected) == 64 and ident not in expected
    with pytest.raises(ValueError):
        keyed_subject_hash(b"short", ident)
    with pytest.raises(ValueError):
        keyed_subject_hash(SECRET, "   ")


# --- the fast path: the standard library's encoder where it writes RFC 8785's bytes ------------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)  # incl. surrogates, controls
_scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**60), max_value=2**60)
            | st.floats(allow_nan=False, allow_infinity=False) | _any_text)
_values = st.recursive(
    _scalars,
    lambda children: (st.lists(children, max_size=4) | st.tuples(children, children)
                      | st.dictionaries(_any_text, children, max_size=4)),
    max_leaves=25,
)


def _reference(obj):
    try:
        return rfc8785.dumps(obj)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError) as error:  # a lone surrogate in a key: the latter
        return type(error)


def _ours(obj):
    try:
        return canonical_json(obj)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError) as error:
        return type(error)


@given(_values)
def test_canonical_json_writes_exactly_the_bytes_of_rfc8785(obj) -> None:
    assert _ours(obj) == _reference(obj)


@pytest.mark.parametrize("obj", [
    {"\U0001f600": 1, "\ufb33": 2},  # UTF-16 order differs from code-point order: the reference decides
    {"s": "\ud800"}, {"\ud800": 1},  # a lone surrogate: refused as rfc8785 refuses it
    {"n": 2**53}, {"n": -(2**53) + 1}, {"n": 2**53 - 1},  # the edge of the safe integers
    {"f": 1.0, "l": (1, 2)}, {1: "non-string key"},
    {"c": "\x00\x1f\x7f\u2028\b\f\n\r\t\"\\/"},
])
def test_the_fast_path_edges(obj) -> None:
    assert _ours(obj) == _reference(obj)

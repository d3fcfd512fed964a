"""The ledger's safety net for identifiers in clear (``ledger.privacy.find_identifier``)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from tongban.ledger.privacy import _CANDIDATE, _is_id_number, _is_uscc, find_identifier

ID_NUMBER = "11010519491231002X"
USCC = "91330100MA27XL0K4U"


def _reference(*values) -> set[str]:
    """Every identifier, one string at a time (the definition the single search must equal)."""
    found, todo = set(), list(values)
    while todo:
        value = todo.pop()
        if isinstance(value, str):
            found |= {m.group() for m in _CANDIDATE.finditer(value) if _is_id_number(m.group()) or _is_uscc(m.group())}
        elif isinstance(value, dict):
            todo += [*value.keys(), *value.values()]
        elif isinstance(value, list | tuple):
            todo += list(value)
    return found


def test_identifiers_are_found_in_values_keys_and_nesting():
    assert find_identifier("申请人 " + ID_NUMBER + " 的记录") == ID_NUMBER
    assert find_identifier({"payload": {"note": [1, ("x", f"code:{USCC}")]}}) == USCC
    assert find_identifier({ID_NUMBER: "a key"}) == ID_NUMBER
    assert find_identifier("a" + ID_NUMBER) is None  # glued to a letter: part of a longer token
    assert find_identifier(ID_NUMBER[:-1] + "1") is None  # wrong check character
    assert find_identifier("f" * 64, "resource:civil-00001", None, 42) is None


def test_two_strings_never_join_into_one_identifier():
    assert find_identifier(["110105194912", "31002X"]) is None
    assert find_identifier({"a": ID_NUMBER[:9], "b": ID_NUMBER[9:]}) is None


_tokens = st.sampled_from([ID_NUMBER, USCC, ID_NUMBER.lower(), "0" * 18, "x", " ", "-", "中", "a1b2"])
_texts = st.lists(_tokens, max_size=6).map("".join)
_values = st.recursive(_texts | st.integers() | st.none(),
                       lambda c: st.lists(c, max_size=3) | st.dictionaries(_texts, c, max_size=3), max_leaves=12)


@given(st.lists(_values, max_size=4))
def test_the_single_search_finds_what_a_search_per_string_finds(values):
    found = find_identifier(*values)
    expected = _reference(*values)
    assert (found is None) == (not expected)
    assert found is None or found in expected
    assert found is None or re.fullmatch(r"[0-9A-Za-z]{18}", found)

"""Tests for resident ID number and USCC validation, masking and synthetic generators.

No database and no Django settings needed: ``InvalidInput.message`` (which reads the active
language) is never called; ``message_zh``/``message_en``/``code``/``details`` are checked instead.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tongban.core.errors import InvalidInput
from tongban.identity.generators import MAX_USCC_SERIAL, make_id_number, make_uscc
from tongban.identity.validators import (
    ID_WEIGHTS,
    PROVINCE_CODES,
    USCC_CHARSET,
    USCC_ENTITY_TYPES,
    USCC_WEIGHTS,
    IdNumberInfo,
    UsccInfo,
    id_check_char,
    is_valid_id_number,
    is_valid_uscc,
    mask_id_number,
    mask_uscc,
    org_code_check_char,
    uscc_check_char,
    validate_id_number,
    validate_uscc,
)

TEXTBOOK_ID = "11010519491231002X"
# Real-format codes whose organisation-code and final check characters both verify
# (one has an organisation-code check character of X).
VALID_USCCS = ["91350100M000100Y43", "91440300708461136T", "9144030071526726XG", "91110000100010433L"]


def id_reason(value: str, **kwargs: object) -> str:
    with pytest.raises(InvalidInput) as excinfo:
        validate_id_number(value, **kwargs)  # type: ignore[arg-type]
    assert excinfo.value.code == "invalid_id_number"
    return excinfo.value.details["reason"]


def uscc_reason(value: str) -> str:
    with pytest.raises(InvalidInput) as excinfo:
        validate_uscc(value)
    assert excinfo.value.code == "invalid_uscc"
    return excinfo.value.details["reason"]


def with_id_check(first17: str) -> str:
    return first17 + id_check_char(first17)


def with_uscc_checks(first16: str) -> str:
    """Complete a USCC prefix (authority .. organisation-code body) with both check characters."""
    first17 = first16 + org_code_check_char(first16[8:16])
    return first17 + uscc_check_char(first17)


# --- Resident ID number: known values ----------------------------------------------------------------


def test_textbook_id_number_is_valid() -> None:
    info = validate_id_number(TEXTBOOK_ID)
    assert info == IdNumberInfo(
        number=TEXTBOOK_ID, region_code="110105", birth_date=datetime.date(1949, 12, 31), sex="female"
    )


@pytest.mark.parametrize("raw", ["11010519491231002x", "  11010519491231002X\n", "\t11010519491231002x "])
def test_lowercase_x_and_whitespace_are_normalised(raw: str) -> None:
    assert validate_id_number(raw).number == TEXTBOOK_ID


def test_odd_sequence_digit_is_male() -> None:
    number = with_id_check("11010519491231001")
    assert validate_id_number(number).sex == "male"


def test_info_is_frozen() -> None:
    info = validate_id_number(TEXTBOOK_ID)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.sex = "male"  # type: ignore[misc]


def test_gb11643_example_born_1880_is_rejected_for_birth_date() -> None:
    # The standard's own example has a correct check digit but predates the 1900 lower bound.
    assert id_check_char("44052418800101001") == "4"
    assert id_reason("440524188001010014") == "birth_date"


# --- Resident ID number: every reason code -------------------------------------------------------------


@pytest.mark.parametrize("raw", ["", "   ", TEXTBOOK_ID[:17], TEXTBOOK_ID + "1", "1101051949123100"])
def test_id_length(raw: str) -> None:
    assert id_reason(raw) == "length"


def test_id_length_details_and_messages() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        validate_id_number("12345")
    error = excinfo.value
    assert error.status == 422
    assert error.details == {"reason": "length", "length": 5}
    assert error.message_zh == "身份证号码应为 18 位，实为 5 位"
    assert error.message_en == "ID number must be 18 characters long, got 5"


@pytest.mark.parametrize(
    ("raw", "position"),
    [
        ("X1010519491231002X", 1),  # X only allowed last
        ("1101051949123100X2", 17),
        ("11010519491231002A", 18),
        ("110105 9491231002X", 7),  # inner whitespace is not stripped
        ("１1010519491231002X", 1),  # full-width digit: str.isdigit() would accept it
        ("11010519491231002٣", 18),  # Arabic-Indic digit
    ],
)
def test_id_characters(raw: str, position: int) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        validate_id_number(raw)
    assert excinfo.value.details == {"reason": "characters", "position": position}
    assert f"第 {position} 位" in excinfo.value.message_zh
    assert f"character {position}" in excinfo.value.message_en


@pytest.mark.parametrize("region", ["000000", "990101", "160101", "720101", "830000", "110000", "810000"])
def test_id_region(region: str) -> None:
    assert id_reason(with_id_check(region + "19491231002")) == "region"


@pytest.mark.parametrize(
    "birth", ["18991231", "19490230", "19491301", "19490001", "19491200", "20230229", "99991231"]
)
def test_id_birth_date(birth: str) -> None:
    assert id_reason(with_id_check("110105" + birth + "002")) == "birth_date"


def test_id_birth_date_bounds_are_inclusive_and_today_is_injectable() -> None:
    today = datetime.date(2024, 2, 29)
    assert validate_id_number(with_id_check("11010519000101002")).birth_date == datetime.date(1900, 1, 1)
    assert validate_id_number(with_id_check("11010520240229002"), today=today).birth_date == today
    assert id_reason(with_id_check("11010520240301002"), today=today) == "birth_date"


def test_id_checksum_reason_and_messages() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        validate_id_number("110105194912310021")
    error = excinfo.value
    assert error.details == {"reason": "checksum", "expected": "X"}
    assert error.message_zh == "身份证号码校验位错误：应为 X"
    assert error.message_en == "ID number check character is wrong: expected X"


def test_id_errors_do_not_echo_the_number() -> None:
    # An ID number is personal data: it must not end up in error payloads or logs.
    for raw in ["110105194912310021", "11010519491231002", "99010519491231002X"]:
        with pytest.raises(InvalidInput) as excinfo:
            validate_id_number(raw)
        error = excinfo.value
        for text in (error.message_zh, error.message_en, str(error), repr(error.details)):
            assert raw[:17] not in text


def test_is_valid_id_number() -> None:
    assert is_valid_id_number(TEXTBOOK_ID)
    assert is_valid_id_number("11010519491231002x")
    assert not is_valid_id_number("110105194912310021")
    assert not is_valid_id_number("")


@pytest.mark.parametrize("bad", ["", "1101051949123100", "110105194912310021", "1101051949123100A"])
def test_id_check_char_rejects_bad_input(bad: str) -> None:
    with pytest.raises(ValueError):
        id_check_char(bad)


# --- USCC: known values --------------------------------------------------------------------------------


@pytest.mark.parametrize("code", VALID_USCCS)
def test_known_usccs_are_valid(code: str) -> None:
    info = validate_uscc(code)
    assert info == UsccInfo(
        code=code,
        registration_authority="9",
        entity_type="1",
        region_code=code[2:8],
        organization_code=code[8:17],
    )


def test_uscc_lowercase_and_whitespace_are_normalised() -> None:
    assert validate_uscc(" 91350100m000100y43\n").code == "91350100M000100Y43"


def test_org_code_check_char_values() -> None:
    assert org_code_check_char("M000100Y") == "4"
    assert org_code_check_char("71526726") == "X"  # remainder 1 -> 10 -> X
    # remainder 0 -> 11 -> "0"
    assert org_code_check_char("00000000") == "0"
    with pytest.raises(ValueError):
        org_code_check_char("m000100y")
    with pytest.raises(ValueError):
        org_code_check_char("M000100")


def test_uscc_check_char_rejects_bad_input() -> None:
    assert uscc_check_char("91350100M000100Y4") == "3"
    for bad in ["91350100M000100Y", "91350100M000100I4", "91350100m000100Y4"]:
        with pytest.raises(ValueError):
            uscc_check_char(bad)


# --- USCC: every reason code -----------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["", "91350100M000100Y4", "91350100M000100Y433"])
def test_uscc_length(raw: str) -> None:
    assert uscc_reason(raw) == "length"


@pytest.mark.parametrize(
    ("raw", "position"),
    [
        ("91350100I000100Y43", 9),
        ("91350100O000100Y43", 9),
        ("91350100M000100Z43", 16),
        ("91350100M000100S43", 16),
        ("91350100M000100Y4V", 18),
        ("91350100M000100Y4i", 18),  # lower-case i becomes I, which is excluded
        ("91350100M000-00Y43", 13),
    ],
)
def test_uscc_characters(raw: str, position: int) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        validate_uscc(raw)
    assert excinfo.value.details == {"reason": "characters", "position": position}
    assert "I、O、Z、S、V" in excinfo.value.message_zh


@pytest.mark.parametrize("authority", ["0", "B", "C", "M", "X"])
def test_uscc_registration_authority(authority: str) -> None:
    assert uscc_reason(with_uscc_checks(authority + "1350100M000100Y")) == "registration_authority"


@pytest.mark.parametrize("pair", ["94", "99", "Y2", "A2", "21", "10"])
def test_uscc_entity_type(pair: str) -> None:
    # "21" is allowed; only pairs outside the table are rejected.
    code = with_uscc_checks(pair + "350100M000100Y")
    if pair[1] in USCC_ENTITY_TYPES[pair[0]]:
        assert is_valid_uscc(code)
    else:
        assert uscc_reason(code) == "entity_type"


def test_uscc_every_table_pair_is_accepted() -> None:
    for authority, types in USCC_ENTITY_TYPES.items():
        for entity_type in types:
            assert is_valid_uscc(with_uscc_checks(authority + entity_type + "350100M000100Y"))


def test_uscc_entity_type_message_lists_allowed_types() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        validate_uscc(with_uscc_checks("94350100M000100Y"))
    assert "allowed: 1, 2, 3" in excinfo.value.message_en
    assert "可为 1, 2, 3" in excinfo.value.message_zh


@pytest.mark.parametrize("region", ["3501A0", "Y50100", "35010X"])
def test_uscc_region(region: str) -> None:
    assert uscc_reason(with_uscc_checks("91" + region + "M000100Y")) == "region"


def test_uscc_organization_code_checksum() -> None:
    first17 = "91350100M000100Y5"  # correct organisation check would be 4
    with pytest.raises(InvalidInput) as excinfo:
        validate_uscc(first17 + uscc_check_char(first17))
    error = excinfo.value
    assert error.details == {"reason": "organization_code_checksum", "expected": "4"}
    assert error.message_en.endswith("expected 4")
    assert "应为 4" in error.message_zh


def test_uscc_checksum_reason_and_messages() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        validate_uscc("91350100M000100Y44")
    error = excinfo.value
    assert error.details == {"reason": "checksum", "expected": "3"}
    assert error.message_zh == "统一社会信用代码校验码错误：应为 3"
    assert error.message_en == "Unified social credit code check character is wrong: expected 3"


def test_is_valid_uscc() -> None:
    assert all(is_valid_uscc(code) for code in VALID_USCCS)
    assert not is_valid_uscc("91350100M000100Y44")
    assert not is_valid_uscc("")


# --- Masking ------------------------------------------------------------------------------------------------


def test_masking() -> None:
    assert mask_id_number(TEXTBOOK_ID) == "110***********002X"
    assert mask_id_number(" 11010519491231002x ") == "110***********002X"
    assert mask_uscc("91350100M000100Y43") == "91************0Y43"
    # Too short to show head and tail without revealing everything: hide it all.
    assert mask_id_number("1234567") == "*******"
    assert mask_uscc("") == ""


# --- Check-digit schemes: exhaustive algebraic guarantees ---------------------------------------------------


def test_mod11_2_detects_every_adjacent_transposition_algebraically() -> None:
    # Full weights including the check character's weight 1; values 0..10 (X = 10).
    weights = [*ID_WEIGHTS, 1]
    for i, (a, b) in itertools.product(range(17), itertools.permutations(range(11), 2)):
        assert (a - b) * (weights[i] - weights[i + 1]) % 11 != 0


def test_mod31_detects_every_adjacent_transposition_algebraically() -> None:
    # The final check is chosen so that the full sum is 0 mod 31, i.e. it has weight 1.
    weights = [*USCC_WEIGHTS, 1]
    for i, (a, b) in itertools.product(range(17), itertools.permutations(range(31), 2)):
        assert (a - b) * (weights[i] - weights[i + 1]) % 31 != 0


# --- Generators and property-based tests ---------------------------------------------------------------------

regions = st.builds(
    lambda province, rest: province + rest,
    st.sampled_from(sorted(PROVINCE_CODES)),
    st.from_regex(r"[0-9]{4}", fullmatch=True).filter(lambda s: s != "0000"),
)
birth_dates = st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date.today())
sequences = st.integers(min_value=0, max_value=999)
id_numbers = st.builds(make_id_number, regions, birth_dates, sequences)

authority_types = st.sampled_from(sorted((a, t) for a, types in USCC_ENTITY_TYPES.items() for t in types))
usccs = st.builds(
    lambda region, serial, pair: make_uscc(region, serial, *pair),
    st.from_regex(r"[0-9]{6}", fullmatch=True),
    st.integers(min_value=0, max_value=MAX_USCC_SERIAL),
    authority_types,
)


@given(regions, birth_dates, sequences)
def test_generated_id_numbers_validate_and_round_trip(region: str, birth: datetime.date, seq: int) -> None:
    number = make_id_number(region, birth, seq)
    assert make_id_number(region, birth, seq) == number  # deterministic
    info = validate_id_number(number)
    assert (info.region_code, info.birth_date) == (region, birth)
    assert info.sex == ("male" if seq % 2 else "female")
    assert validate_id_number(number.lower()).number == number


@given(id_numbers, st.data())
def test_any_single_substitution_in_id_number_is_rejected(number: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(min_value=0, max_value=17))
    allowed = "0123456789X" if position == 17 else "0123456789"
    replacement = data.draw(st.sampled_from([c for c in allowed if c != number[position]]))
    assert not is_valid_id_number(number[:position] + replacement + number[position + 1 :])


@given(id_numbers, st.data())
def test_any_adjacent_transposition_in_id_number_is_rejected(number: str, data: st.DataObject) -> None:
    candidates = [i for i in range(17) if number[i] != number[i + 1]]
    i = data.draw(st.sampled_from(candidates))
    swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
    assert not is_valid_id_number(swapped)


@given(usccs)
def test_generated_usccs_validate_and_round_trip(code: str) -> None:
    info = validate_uscc(code.lower())
    assert info.code == code
    assert info.organization_code == code[8:17]


@given(usccs, st.data())
def test_any_single_substitution_in_uscc_is_rejected(code: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(min_value=0, max_value=17))
    replacement = data.draw(st.sampled_from([c for c in USCC_CHARSET if c != code[position]]))
    assert not is_valid_uscc(code[:position] + replacement + code[position + 1 :])


@given(usccs, st.data())
def test_any_adjacent_transposition_in_uscc_is_rejected(code: str, data: st.DataObject) -> None:
    # True for MOD 31 as for MOD 11-2: adjacent weights differ by a factor of 3 (see the algebraic test).
    candidates = [i for i in range(17) if code[i] != code[i + 1]]
    i = data.draw(st.sampled_from(candidates))
    assert not is_valid_uscc(code[:i] + code[i + 1] + code[i] + code[i + 2 :])


def test_generators_are_deterministic_and_known() -> None:
    assert make_id_number("110105", datetime.date(1949, 12, 31), 2) == TEXTBOOK_ID
    assert make_uscc("350100", 0) == with_uscc_checks("9135010000000000")
    assert make_uscc("350100", 1) == make_uscc("350100", 1)
    assert make_uscc("350100", MAX_USCC_SERIAL)[8:16] == "YYYYYYYY"


@pytest.mark.parametrize(
    "args",
    [
        ("110000", datetime.date(1990, 1, 1), 1),
        ("990101", datetime.date(1990, 1, 1), 1),
        ("11010", datetime.date(1990, 1, 1), 1),
        ("110105", datetime.date(1899, 12, 31), 1),
        ("110105", datetime.date.today() + datetime.timedelta(days=1), 1),
        ("110105", datetime.date(1990, 1, 1), -1),
        ("110105", datetime.date(1990, 1, 1), 1000),
    ],
)
def test_make_id_number_rejects_bad_arguments(args: tuple[str, datetime.date, int]) -> None:
    with pytest.raises(ValueError):
        make_id_number(*args)


@pytest.mark.parametrize(
    "args",
    [
        ("35010", 1, "9", "1"),
        ("35010A", 1, "9", "1"),
        ("350100", -1, "9", "1"),
        ("350100", MAX_USCC_SERIAL + 1, "9", "1"),
        ("350100", 1, "9", "4"),
        ("350100", 1, "B", "1"),
    ],
)
def test_make_uscc_rejects_bad_arguments(args: tuple[str, int, str, str]) -> None:
    with pytest.raises(ValueError):
        make_uscc(*args)

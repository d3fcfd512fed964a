"""Validators for Chinese identifiers: the resident ID number and the unified social credit code.

Pure Python, no database: these run at the edge of every form and API that accepts an identifier,
so they must be cheap and deterministic. Failures raise ``InvalidInput`` with a stable
``details["reason"]`` so that callers (and tests) can branch on *what* is wrong without parsing
messages. Messages and details never echo the submitted value back: an ID number is personal
data and must not leak into logs or error payloads.

* Resident ID number (公民身份号码), GB 11643-1999: 6-digit region code, 8-digit birth date,
  3-digit sequence (odd = male), ISO 7064 MOD 11-2 check character.
* Unified social credit code (统一社会信用代码), GB 32100-2015: registration authority, entity
  type, 6-digit region code, 9-character organisation code (GB 11714, with its own MOD 11 check
  character) and a final MOD 31 check character.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Literal

from tongban.core.errors import InvalidInput

# --- Resident ID number (GB 11643-1999) -----------------------------------------------------------

ID_LENGTH = 18
# Weights are 2**(17-i) mod 11; every weight is non-zero mod 11 and each is twice the next, which
# is why MOD 11-2 catches every single substitution and every adjacent transposition.
ID_WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# Indexed by (weighted sum mod 11): the check character that brings the full sum to 1 mod 11.
ID_CHECK_CHARS = "10X98765432"
ID_MIN_BIRTH_DATE = datetime.date(1900, 1, 1)

# Province-level prefixes of GB/T 2260 (71 = Taiwan, 81/82 = Hong Kong/Macao). Note that residence
# permits for Hong Kong/Macao/Taiwan residents use 810000/820000/830000, which the county-level rule
# below rejects: this validator is for resident ID numbers only.
PROVINCE_CODES: frozenset[str] = frozenset(
    [str(n) for n in range(11, 16)]
    + [str(n) for n in range(21, 24)]
    + [str(n) for n in range(31, 38)]
    + [str(n) for n in range(41, 47)]
    + [str(n) for n in range(50, 55)]
    + [str(n) for n in range(61, 66)]
    + ["71", "81", "82"]
)

# --- Unified social credit code (GB 32100-2015) ---------------------------------------------------

USCC_LENGTH = 18
# 31 characters: digits and upper-case letters without I, O, Z, S, V (easily confused with
# 1, 0, 2, 5, U). A character's value is its index in this string.
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES: dict[str, int] = {c: i for i, c in enumerate(USCC_CHARSET)}
# Weights are 3**i mod 31; 3 is a primitive root mod 31, so weights are distinct and non-zero and
# adjacent ones differ by a non-zero factor: all single substitutions and adjacent transpositions
# change the sum mod 31.
USCC_WEIGHTS: tuple[int, ...] = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

# Registration authority code -> entity type codes it may issue (GB 32100-2015, table 1 and 2).
USCC_ENTITY_TYPES: dict[str, frozenset[str]] = {
    "1": frozenset("1239"),  # 机构编制: 机关, 事业单位, 中央编办直接管理机构编制的群众团体, 其他
    "2": frozenset("19"),  # 外交: 外国常驻新闻机构, 其他
    "3": frozenset("123459"),  # 司法行政: 律师事务所, 公证处, 基层法律服务所, 司法鉴定机构, 仲裁委员会, 其他
    "4": frozenset("19"),  # 文化: 外国在华文化中心, 其他
    "5": frozenset("1239"),  # 民政: 社会团体, 民办非企业单位, 基金会, 其他
    "6": frozenset("129"),  # 旅游: 外国旅游部门常驻代表机构, 港澳台地区旅游部门常驻内地代表机构, 其他
    "7": frozenset("129"),  # 宗教: 宗教活动场所, 宗教院校, 其他
    "8": frozenset("19"),  # 工会: 基层工会, 其他
    "9": frozenset("123"),  # 工商: 企业, 个体工商户, 农民专业合作社
    "A": frozenset("19"),  # 中央军委改革和编制办公室: 军队事业单位, 其他
    "N": frozenset("1239"),  # 农业: 组级集体经济组织, 村级集体经济组织, 乡镇级集体经济组织, 其他
    "Y": frozenset("1"),  # 其他
}

# GB 11714 organisation code: 8 body characters, then a MOD 11 check character.
ORG_CODE_WEIGHTS: tuple[int, ...] = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_BODY_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")

Sex = Literal["male", "female"]


@dataclass(frozen=True)
class IdNumberInfo:
    number: str  # normalised: 18 characters, upper-case X
    region_code: str
    birth_date: datetime.date
    sex: Sex


@dataclass(frozen=True)
class UsccInfo:
    code: str  # normalised: 18 upper-case characters
    registration_authority: str
    entity_type: str
    region_code: str
    organization_code: str  # 9 characters, GB 11714 check character included


# --- Check characters -------------------------------------------------------------------------------


def id_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits of an ID number."""
    if len(first17) != ID_LENGTH - 1 or not _is_ascii_digits(first17):
        raise ValueError("id_check_char needs exactly 17 ASCII digits")
    total = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11]


def org_code_check_char(body8: str) -> str:
    """GB 11714 check character for an 8-character organisation code body."""
    if len(body8) != len(ORG_CODE_WEIGHTS) or not set(body8) <= _ORG_BODY_CHARS:
        raise ValueError("org_code_check_char needs exactly 8 digits or upper-case letters")
    # Letters count as 10..35 (A=10), i.e. ord - 55.
    total = sum(
        (int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body8, ORG_CODE_WEIGHTS, strict=True)
    )
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def uscc_check_char(first17: str) -> str:
    """GB 32100 MOD 31 check character for the first 17 characters of a USCC."""
    if len(first17) != USCC_LENGTH - 1 or not set(first17) <= _USCC_VALUES.keys():
        raise ValueError("uscc_check_char needs exactly 17 characters from the USCC charset")
    total = sum(_USCC_VALUES[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


# --- Resident ID number ------------------------------------------------------------------------------


def _id_error(reason: str, zh: str, en: str, **details: Any) -> InvalidInput:
    return InvalidInput(
        f"身份证号码{zh}", f"ID number {en}", code="invalid_id_number", details={"reason": reason, **details}
    )


def is_valid_region_code(code: str) -> bool:
    """A county-level GB/T 2260 code: 6 digits, known province prefix, not a province itself."""
    return (
        len(code) == 6 and _is_ascii_digits(code) and code[:2] in PROVINCE_CODES and not code.endswith("0000")
    )


def validate_id_number(value: str, *, today: datetime.date | None = None) -> IdNumberInfo:
    """Validate and normalise a resident ID number; raise ``InvalidInput`` saying what is wrong.

    ``today`` bounds the birth date (default: ``date.today()``); pass the platform's local date
    (``django.utils.timezone.localdate()``) when the server clock's zone may differ.
    """
    number = value.strip().upper() if isinstance(value, str) else ""
    if len(number) != ID_LENGTH:
        raise _id_error(
            "length",
            f"应为 18 位，实为 {len(number)} 位",
            f"must be 18 characters long, got {len(number)}",
            length=len(number),
        )
    for position, char in enumerate(number, start=1):
        # isdigit() alone would accept full-width and other Unicode digits.
        if not (_is_ascii_digits(char) or (position == ID_LENGTH and char == "X")):
            allowed_zh, allowed_en = (
                ("数字或 X", "a digit or X") if position == ID_LENGTH else ("数字", "a digit")
            )
            raise _id_error(
                "characters",
                f"第 {position} 位应为{allowed_zh}",
                f"character {position} must be {allowed_en}",
                position=position,
            )
    region_code = number[:6]
    if not is_valid_region_code(region_code):
        raise _id_error(
            "region",
            "前 6 位不是有效的县级行政区划代码",
            "digits 1-6 are not a valid county-level region code",
        )
    birth_date = _parse_date(number[6:14])
    latest = today or datetime.date.today()
    if birth_date is None or not ID_MIN_BIRTH_DATE <= birth_date <= latest:
        raise _id_error(
            "birth_date",
            "第 7-14 位不是有效的出生日期（1900-01-01 至今）",
            "digits 7-14 are not a valid birth date (1900-01-01 to today)",
        )
    expected = id_check_char(number[:17])
    if number[17] != expected:
        raise _id_error(
            "checksum",
            f"校验位错误：应为 {expected}",
            f"check character is wrong: expected {expected}",
            expected=expected,
        )
    sex: Sex = "male" if int(number[16]) % 2 else "female"
    return IdNumberInfo(number=number, region_code=region_code, birth_date=birth_date, sex=sex)


def is_valid_id_number(value: str, *, today: datetime.date | None = None) -> bool:
    try:
        validate_id_number(value, today=today)
    except InvalidInput:
        return False
    return True


# --- Unified social credit code ----------------------------------------------------------------------


def _uscc_error(reason: str, zh: str, en: str, **details: Any) -> InvalidInput:
    return InvalidInput(
        f"统一社会信用代码{zh}",
        f"Unified social credit code {en}",
        code="invalid_uscc",
        details={"reason": reason, **details},
    )


def validate_uscc(value: str) -> UsccInfo:
    """Validate and normalise a unified social credit code; raise ``InvalidInput`` saying what is wrong."""
    code = value.strip().upper() if isinstance(value, str) else ""
    if len(code) != USCC_LENGTH:
        raise _uscc_error(
            "length",
            f"应为 18 位，实为 {len(code)} 位",
            f"must be 18 characters long, got {len(code)}",
            length=len(code),
        )
    for position, char in enumerate(code, start=1):
        if char not in _USCC_VALUES:
            raise _uscc_error(
                "characters",
                f"第 {position} 位含非法字符（只允许数字和除 I、O、Z、S、V 以外的大写字母）",
                f"character {position} is not allowed (only digits and letters other than I, O, Z, S, V)",
                position=position,
            )
    authority, entity_type = code[0], code[1]
    if authority not in USCC_ENTITY_TYPES:
        raise _uscc_error(
            "registration_authority",
            f"第 1 位登记管理部门代码 {authority} 无效",
            f"registration authority code {authority} (character 1) is not valid",
        )
    allowed = USCC_ENTITY_TYPES[authority]
    if entity_type not in allowed:
        listing = ", ".join(sorted(allowed))
        raise _uscc_error(
            "entity_type",
            f"第 2 位机构类别代码 {entity_type} 与登记管理部门代码 {authority} 不匹配（可为 {listing}）",
            f"entity type code {entity_type} (character 2) is not valid for registration authority "
            f"{authority} (allowed: {listing})",
        )
    region_code = code[2:8]
    if not _is_ascii_digits(region_code):
        raise _uscc_error(
            "region",
            "第 3-8 位登记管理机关行政区划码应为 6 位数字",
            "characters 3-8 (region code) must be 6 digits",
        )
    organization_code = code[8:17]
    expected_org = org_code_check_char(organization_code[:8])
    if organization_code[8] != expected_org:
        raise _uscc_error(
            "organization_code_checksum",
            f"第 17 位组织机构代码校验码错误：应为 {expected_org}",
            f"organisation code check character (character 17) is wrong: expected {expected_org}",
            expected=expected_org,
        )
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        raise _uscc_error(
            "checksum",
            f"校验码错误：应为 {expected}",
            f"check character is wrong: expected {expected}",
            expected=expected,
        )
    return UsccInfo(
        code=code,
        registration_authority=authority,
        entity_type=entity_type,
        region_code=region_code,
        organization_code=organization_code,
    )


def is_valid_uscc(value: str) -> bool:
    try:
        validate_uscc(value)
    except InvalidInput:
        return False
    return True


# --- Masking for display -----------------------------------------------------------------------------


def mask_id_number(value: str) -> str:
    """Show only the first 3 and last 4 characters: ``110***********002X``."""
    return _mask(value, head=3, tail=4)


def mask_uscc(value: str) -> str:
    """Show only the first 2 and last 4 characters: ``91************0Y43``."""
    return _mask(value, head=2, tail=4)


def _mask(value: str, *, head: int, tail: int) -> str:
    text = value.strip().upper()
    # Too short to reveal head and tail and still hide something: hide it all rather than leak it.
    if len(text) <= head + tail:
        return "*" * len(text)
    return text[:head] + "*" * (len(text) - head - tail) + text[len(text) - tail :]


# --- Helpers -------------------------------------------------------------------------------------------


def _is_ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _parse_date(yyyymmdd: str) -> datetime.date | None:
    try:
        return datetime.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return None

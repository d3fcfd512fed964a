"""Deterministic generators of synthetic identifiers for demo data and tests.

The values are structurally valid (they pass ``validators``) but are made up: the same inputs
always give the same output, so fixtures are reproducible. A structurally valid number may still
coincide with a real person's or organisation's; never use these outside demo and test data.

Bad arguments are programming errors, so they raise ``ValueError`` rather than ``InvalidInput``.
"""

from __future__ import annotations

import datetime

from tongban.identity.validators import (
    ID_MIN_BIRTH_DATE,
    USCC_CHARSET,
    USCC_ENTITY_TYPES,
    id_check_char,
    is_valid_region_code,
    org_code_check_char,
    uscc_check_char,
    validate_id_number,
    validate_uscc,
)

# The organisation-code body is written in base 31 over the USCC charset: GB 11714 would also
# allow I, O, S, V and Z, but those cannot appear inside a USCC.
_ORG_BODY_LENGTH = 8
MAX_USCC_SERIAL = len(USCC_CHARSET) ** _ORG_BODY_LENGTH - 1


def make_id_number(region_code: str, birth_date: datetime.date, sequence: int) -> str:
    """A valid resident ID number for a county-level region, a birth date and a sequence 0..999.

    The sex follows from the sequence as in a real number: odd = male, even = female.
    """
    if not is_valid_region_code(region_code):
        raise ValueError(f"region_code must be a county-level GB/T 2260 code, got {region_code!r}")
    if not ID_MIN_BIRTH_DATE <= birth_date <= datetime.date.today():
        raise ValueError(f"birth_date must be between {ID_MIN_BIRTH_DATE} and today, got {birth_date}")
    if not 0 <= sequence <= 999:
        raise ValueError(f"sequence must be in 0..999, got {sequence}")
    first17 = f"{region_code}{birth_date:%Y%m%d}{sequence:03d}"
    number = first17 + id_check_char(first17)
    # Cheap guard that generator and validator never drift apart.
    validate_id_number(number)
    return number


def make_uscc(
    region_code: str, serial: int, registration_authority: str = "9", entity_type: str = "1"
) -> str:
    """A valid unified social credit code; ``serial`` (0..31**8-1) determines the organisation code.

    Defaults give an enterprise registered with market regulation (``91``). The organisation-code
    check character may be ``X``, which is also a legal USCC character.
    """
    if len(region_code) != 6 or not (region_code.isascii() and region_code.isdigit()):
        raise ValueError(f"region_code must be 6 digits, got {region_code!r}")
    if entity_type not in USCC_ENTITY_TYPES.get(registration_authority, frozenset()):
        raise ValueError(
            f"entity type {entity_type!r} is not valid for registration authority {registration_authority!r}"
        )
    if not 0 <= serial <= MAX_USCC_SERIAL:
        raise ValueError(f"serial must be in 0..{MAX_USCC_SERIAL}, got {serial}")
    body = _base31(serial)
    first17 = f"{registration_authority}{entity_type}{region_code}{body}{org_code_check_char(body)}"
    code = first17 + uscc_check_char(first17)
    validate_uscc(code)
    return code


def _base31(serial: int) -> str:
    digits = []
    for _ in range(_ORG_BODY_LENGTH):
        serial, remainder = divmod(serial, len(USCC_CHARSET))
        digits.append(USCC_CHARSET[remainder])
    return "".join(reversed(digits))

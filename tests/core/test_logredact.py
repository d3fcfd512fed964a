"""Identifiers never reach the logs in clear (the exchange puts ID numbers in URL paths)."""

from __future__ import annotations

import datetime
import logging

from tongban.core.logredact import RedactingFilter, redact
from tongban.identity.generators import make_id_number, make_uscc


def test_id_numbers_credit_codes_and_phones_are_masked_in_text():
    number = make_id_number("330106", datetime.date(1990, 3, 7), 123)
    uscc = make_uscc("330100", 77)
    line = f'127.0.0.1 "GET /api/v1/exchange/resources/civil-00001/records/{number}" 404 uscc={uscc} tel 13812345678'
    masked = redact(line)
    assert number not in masked and uscc not in masked and "13812345678" not in masked
    assert f"{number[:6]}********{number[-4:]}" in masked
    assert "138****5678" in masked
    # Longer tokens (hashes) and ordinary numbers are left alone.
    digest = "a" * 64
    assert redact(f"hash {digest} size 123456") == f"hash {digest} size 123456"


def test_the_filter_rewrites_records_passing_through_a_handler(caplog):
    number = make_id_number("330106", datetime.date(1985, 1, 2), 5)
    logger = logging.getLogger("tongban.test.redact")
    handler = logging.Handler()
    seen = []
    handler.emit = lambda record: seen.append(record.getMessage())
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    try:
        logger.warning("Unprocessable Entity: %s", f"/records/{number}")
    finally:
        logger.removeHandler(handler)
    assert seen and number not in seen[0] and number[:6] in seen[0]


def test_django_console_handler_is_filtered(settings):
    assert "redact" in settings.LOGGING["handlers"]["console"]["filters"]

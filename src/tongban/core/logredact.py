"""Keep personal identifiers out of the logs.

Paths such as ``/api/v1/exchange/resources/<code>/records/<ID number>`` and warnings that echo
them would otherwise write ID numbers, credit codes and phone numbers to every log line. This
filter rewrites any 18-character token of the ID-number / USCC alphabet (kept: first 6, last 4)
and any mainland mobile number (kept: first 3, last 4) before a record is written. It errs on
the side of masking: an unrelated 18-character token is masked too, which costs nothing in a log.
It is attached to Django's console handler (settings.LOGGING); ``tongban serve`` passes every
line the web server writes through ``redact`` (``core.serving``).
"""

from __future__ import annotations

import logging
import re

_IDENTIFIER = re.compile(r"(?<![0-9A-Za-z])([0-9A-HJ-NP-RTUWXYa-hj-np-rtuwxy]{6})[0-9A-Za-z]{8}([0-9A-Za-z]{4})(?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def redact(text: str) -> str:
    text = _IDENTIFIER.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text)
    return _PHONE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)


class RedactingFilter(logging.Filter):
    """A handler filter: formats the message once, masks identifiers, and keeps the record.

    The traceback of a logged exception is masked too (its message may quote the input that
    failed): it is formatted here, masked, and left in ``record.exc_text``, which the handler's
    formatter then uses as it is. So is ``stack_info``."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is the logging module's problem, not ours
            return True
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True

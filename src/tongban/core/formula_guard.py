"""Spreadsheet formula injection (CSV injection) guard, shared by every CSV and XLSX writer.

A cell whose text a spreadsheet program would evaluate (OWASP: it starts with ``=`` ``+`` ``-``
``@``, a tab or a carriage return; programs skip leading spaces before ``=`` too) gets a leading
``'``, so it is shown as text and never run. Plain numbers such as ``-12.5`` or ``+86`` stay as
they are. ``unguard`` undoes it for an importer reading back what an export wrote.
"""

from __future__ import annotations

import re

_FORMULA_START = frozenset("=+-@")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def formula_safe(text: str) -> str:
    if not text:
        return text
    if text[0] in "\t\r" or (text.lstrip()[:1] in _FORMULA_START and not _NUMBER.fullmatch(text)):
        return "'" + text
    return text


def unguard(text: str) -> str:
    """The text ``formula_safe`` was given, when ``text`` is what it answered (or, as earlier exports
    wrote, a quote before = + - @); else ``text``."""
    if text[:1] == "'" and (formula_safe(text[1:]) == text or text[1:2] in _FORMULA_START):
        return text[1:]
    return text

"""Reading record batches from files and request bodies, one row at a time (bounded memory).

* ``iter_csv(binary_file, items)``: a CSV file (a spreadsheet export) whose header row names the
  items by key (``id_number``) or by Chinese name (``公民身份号码``, as provinces' spreadsheets do);
  UTF-8 with or without BOM, else GB18030 (what Excel saves as "CSV" on a Chinese Windows).
  Empty cells are ``None``; blank lines are skipped. A header naming no item raises
  ``InvalidInput`` ``unknown_column`` before any row is read.
* ``iter_ndjson(stream)``: ``application/x-ndjson``, one JSON object per line. A line that is
  not JSON is yielded as a ``BadRow`` so the loader reports it with the other bad rows.

Both take anything with ``read(n)`` (a Django request, an uploaded file, an open file) and never
hold more than one buffer and one row.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from tongban.core.errors import InvalidInput
from tongban.core.formula_guard import unguard

PEEK_BYTES = 64 * 1024  # enough to tell UTF-8 from GB18030 by the header and first rows
BUFFER_BYTES = 256 * 1024
MAX_LINE_BYTES = 1024 * 1024  # one NDJSON record; a longer line is reported as a bad row


@dataclass(frozen=True)
class BadRow:
    """A row that could not even be read (the loader reports it with its row number)."""

    code: str
    message_zh: str
    message_en: str


class _Replay(io.RawIOBase):
    """A raw stream giving ``head`` first, then whatever ``source.read`` gives."""

    def __init__(self, head: bytes, source: Any) -> None:
        self._head = memoryview(head)
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._source.read(len(buffer))
        if not data:
            return 0
        size = len(data)
        buffer[:size] = data
        return size


def _binary(source: Any, head: bytes = b"") -> io.BufferedReader:
    return io.BufferedReader(_Replay(head, source), buffer_size=BUFFER_BYTES)


def detect_encoding(head: bytes) -> str:
    """``utf-8-sig`` (BOM), ``utf-8``, or ``gb18030`` when the start is not valid UTF-8."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)  # a cut last character is fine
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


# --- CSV ---------------------------------------------------------------------------------------------------


def header_keys(items: Iterable[Any]) -> dict[str, str]:
    """What a header cell may say for each item: its key, Chinese name or English name."""
    names: dict[str, str] = {}
    for item in items:
        for label in (item.key, item.name, item.name_en):
            if label:
                names.setdefault(label.strip(), item.key)
                names.setdefault(label.strip().lower(), item.key)
    return names


def _map_header(header: list[str], items: list[Any]) -> list[str]:
    names = header_keys(items)
    keys, unknown, duplicate = [], [], []
    for cell in header:
        label = cell.strip().lstrip("\ufeff").strip()
        key = names.get(label) or names.get(label.lower()) or names.get(unguard(label))  # the template's guard
        if key is None:
            unknown.append(label)
        elif key in keys:
            duplicate.append(label)
        keys.append(key or "")
    if unknown:
        raise InvalidInput(
            f"表头中有 {len(unknown)} 列不是本资源的信息项：{'、'.join(unknown[:20])}",
            f"{len(unknown)} header column(s) are not items of this resource: {', '.join(unknown[:20])}",
            code="unknown_column",
            details={"columns": unknown[:100], "unknown_count": len(unknown), "allowed": [item.name for item in items]},
        )
    if duplicate:
        raise InvalidInput("表头中有重复的列", "The header names an item twice", code="duplicate_column",
                           details={"columns": duplicate})
    return keys


def iter_csv(binary_file: Any, items: list[Any]) -> Iterator[dict | BadRow]:
    """Rows of a CSV file as dicts keyed by item key (see the module docstring)."""
    head = binary_file.read(PEEK_BYTES)
    encoding = detect_encoding(head)
    text = io.TextIOWrapper(_binary(binary_file, head), encoding=encoding, newline="")
    reader = csv.reader(text)
    try:
        header = next(reader, None)
        if header is None:
            return
        keys = _map_header(header, items)
        width = len(keys)
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) > width and any(cell.strip() for cell in cells[width:]):
                yield BadRow("too_many_cells", "该行的单元格多于表头的列数", "The row has more cells than the header")
                continue
            yield {key: (cell if cell.strip() else None) for key, cell in zip(keys, cells, strict=False)}
    except UnicodeDecodeError:
        raise InvalidInput(f"文件编码无法识别（按 {encoding} 读取失败），请保存为 UTF-8 或 GB18030 编码的 CSV",
                           f"The file is not valid {encoding}; save it as CSV in UTF-8 or GB18030",
                           code="invalid_encoding") from None
    except csv.Error as error:
        raise InvalidInput("CSV 文件格式有误", "The CSV file is malformed", code="invalid_csv",
                           details={"reason": str(error)[:200]}) from None


# --- NDJSON ----------------------------------------------------------------------------------------------


def iter_ndjson(stream: Any) -> Iterator[Any]:
    """One JSON value per non-blank line (objects expected; the loader reports anything else)."""
    reader = _binary(stream)
    while True:
        line = reader.readline(MAX_LINE_BYTES)
        if not line:
            return
        if len(line) == MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := reader.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
            yield BadRow("line_too_long", "该行超过 1 MB", "The line is longer than 1 MB")
            continue
        line = line.strip()
        if line.startswith(codecs.BOM_UTF8):
            line = line[len(codecs.BOM_UTF8):].strip()
        if not line:
            continue
        try:
            yield json.loads(line)
        except ValueError:
            yield BadRow("invalid_json_line", "该行不是有效的 JSON", "The line is not valid JSON")
        except RecursionError:
            yield BadRow("json_too_deep", "该行的 JSON 嵌套层级过深", "The line's JSON is nested too deeply")

"""The assessment ranking as an XLSX workbook (openpyxl): a sheet with the ranking and every
indicator, a sheet with the weights. Headers are Chinese with English. Text cells are guarded
against formula injection: a value starting with = + - @ (or a tab / carriage return) gets a
leading quote, so a spreadsheet program shows it as text and never evaluates it."""

from __future__ import annotations

import io
from typing import Any

from tongban.core.formula_guard import formula_safe

RANKING_SHEET = "排名 Ranking"
WEIGHTS_SHEET = "权重 Weights"
CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def safe(value: Any) -> Any:
    """Numbers and empty cells as they are; text with a quote before = + - @ \\t \\r."""
    if value is None or isinstance(value, int | float):
        return value
    return formula_safe(str(value))


def _header(label_zh: str, label_en: str) -> str:
    return f"{label_zh} {label_en}"


def assessment_workbook(ranking: dict) -> bytes:
    """``ranking``: what ``assessment.ranking`` answers."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    indicators = ranking["indicators"]
    book = Workbook()
    sheet = book.active
    sheet.title = RANKING_SHEET
    sheet.append([_header("排名", "Rank"), _header("部门编码", "Department code"), _header("部门", "Department"),
                  _header("考核周期", "Period"), _header("总分", "Total"),
                  *(_header(i["label_zh"], i["label_en"]) for i in indicators)])
    for row in ranking["rows"]:
        department = row["department"]
        sheet.append([row["rank"], safe(department["code"]), safe(department.get("name_zh") or department["name"]),
                      safe(ranking["period"]), row["total"],
                      *(row["indicators"].get(i["key"]) for i in indicators)])
    weights = book.create_sheet(WEIGHTS_SHEET)
    weights.append([_header("指标", "Indicator"), _header("名称", "Name"), _header("权重", "Weight"),
                    _header("占比（%）", "Share (%)")])
    for i in indicators:
        weights.append([safe(i["key"]), safe(_header(i["label_zh"], i["label_en"])), i["weight"], i["share"]])
    weights.append([])
    weights.append([safe("空白单元格表示该指标不适用，其权重按比例分配给其余指标。"
                         " An empty cell: the indicator does not apply; its weight goes to the others in proportion.")])
    for ws in (sheet, weights):
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()

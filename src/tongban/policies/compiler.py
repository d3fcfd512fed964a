"""Eligibility rules (JSON-Logic) compiled to one DuckDB boolean expression, for bulk matching.

The row-by-row meaning of a rule is ``core.jsonlogic`` (``truthy(evaluate(rule, profile))``); the
compiled SQL must be TRUE on exactly the same profile rows, or bulk matching and the reasons shown
to an enterprise would disagree. So the compiler types every sub-expression statically (number,
text, boolean, list, null) and emits only what it can reproduce exactly:

- every comparison is wrapped so a SQL NULL becomes FALSE (jsonlogic: any comparison with null is
  false, and ``!`` of it is true), ``==`` of two different kinds is the constant FALSE while ``!=``
  of them is "both present";
- numbers are DECIMALs whose precision and scale the compiler tracks, so comparisons and
  ``+ - *`` are exact as Python's ``Decimal`` is (DuckDB's own decimal multiplication does not
  widen and would overflow, and a mixed common type past 38 digits would fall back to DOUBLE);
- column names come only from the variables' whitelist (double-quoted), values only as ``?``
  parameters, in textual order.

Anything else (``if``, ``/``, arithmetic on text, lists compared, computed variable names, numbers
with more than 2 decimal places) is refused with a problem (same shape as ``jsonlogic.validate``'s)
at save time, rather than matched approximately.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tongban.core import jsonlogic

COLUMN_DECIMAL = (18, 2)  # the snapshot's number columns
MAX_SCALE = 2  # decimal places a number literal may have (variables.py: at most 2)
MAX_PRECISION = 28  # Python's default Decimal context is exact up to 28 digits; DuckDB goes to 38
SQL_MAX_PRECISION = 38
MAX_SAFE_INTEGER = 2**53 - 1  # the ledger's canonical JSON (RFC 8785) holds integers up to this
KINDS = ("number", "text", "boolean", "list")
_ORDERINGS = {"<": "<", "<=": "<=", ">": ">", ">=": ">="}
_UNSUPPORTED = ("if", "/")


class CompileError(ValueError):
    """The rule cannot be compiled faithfully; ``problems`` lists why (path, code, message_zh/en)."""

    def __init__(self, problems: list[dict[str, Any]]):
        self.problems = problems
        super().__init__("; ".join(p["message_en"] for p in problems) or "the rule cannot be compiled")


@dataclass(frozen=True)
class Expr:
    """A compiled sub-expression: SQL text, its parameters (in order), static kind, whether it may
    be NULL at run time and, for numbers, its DECIMAL(precision, scale)."""

    sql: str
    params: tuple = ()
    kind: str = "boolean"  # number | text | boolean | list | null | absent (a missing* result)
    nullable: bool = False
    decimal: tuple[int, int] | None = None


TRUE = Expr("TRUE")
FALSE = Expr("FALSE")
NULL = Expr("NULL", kind="null", nullable=True)
NONE_ABSENT = Expr("FALSE", kind="absent")  # an empty missing* list: falsy, and still a list


def _join(*parts: str | Expr, kind: str = "boolean", nullable: bool = False,
          decimal: tuple[int, int] | None = None) -> Expr:
    """Concatenate SQL text and sub-expressions; parameters follow the textual order."""
    sql, params = [], []
    for part in parts:
        if isinstance(part, Expr):
            sql.append(part.sql)
            params.extend(part.params)
        else:
            sql.append(part)
    return Expr("".join(sql), tuple(params), kind, nullable, decimal)


def _problem(path: str, code: str, zh: str, en: str, **extra: Any) -> dict[str, Any]:
    return {"path": path, "code": code, "message_zh": zh, "message_en": en, **extra}


def _number_literal(value: Any) -> tuple[str, int, int] | None:
    """(text, precision, scale) of a number literal with trailing zeros dropped; None if it is
    not finite. Floats are read as ``Decimal(repr(f))``, as jsonlogic reads them."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        value = Decimal(repr(value))
    elif isinstance(value, int):
        value = Decimal(value)
    elif not value.is_finite():
        return None
    sign, digits, exp = value.as_tuple()
    digits = list(digits)
    if not any(digits):
        return "0", 1, 0
    while exp < 0 and digits[-1] == 0:
        digits.pop()
        exp += 1
    scale = max(0, -exp)
    integer_digits = len(digits) + exp if exp >= 0 else max(len(digits) - scale, 0)
    text = format(Decimal((sign, tuple(digits), exp)), "f")
    return text, max(integer_digits + scale, 1), scale


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def _literal_kind(value: Any) -> str | None:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (int, float, Decimal)):
        return "number"
    return None


class _TooWide(ValueError):
    """Numbers whose common type would need more than ``MAX_PRECISION`` digits."""


def _common(*decimals: tuple[int, int]) -> tuple[int, int]:
    scale = max(s for _, s in decimals)
    integer_digits = max(p - s for p, s in decimals)
    if integer_digits + scale > MAX_PRECISION:  # DuckDB stops at 38, Python's exactness at 28
        raise _TooWide(integer_digits + scale)
    return integer_digits + scale, scale


def _cast(expr: Expr, decimal: tuple[int, int]) -> Expr:
    if expr.decimal == decimal:
        return expr
    return _join("CAST(", expr, f" AS DECIMAL({decimal[0]},{decimal[1]}))", kind="number",
                 nullable=expr.nullable, decimal=decimal)


def _not_null(expr: Expr) -> Expr:
    return _join("(", expr, " IS NOT NULL)") if expr.nullable else TRUE


def _no_null(expr: Expr) -> Expr:
    """A boolean expression that may be NULL, made FALSE instead."""
    return _join("COALESCE(", expr, ", FALSE)") if expr.nullable else expr


def truth(expr: Expr) -> Expr:
    """jsonlogic's truthiness as a never-NULL boolean: 0, '', [] and null are false."""
    if expr.kind == "null":
        return FALSE
    if expr.kind in ("boolean", "absent"):
        return _no_null(expr)
    test = {"number": " <> 0)", "text": " <> '')", "list": ") > 0)"}[expr.kind]
    opening = "(len(" if expr.kind == "list" else "("
    return _no_null(_join(opening, expr, test, nullable=expr.nullable))


class _Compiler:
    def __init__(self, types: Mapping[str, str]):
        for name, kind in types.items():
            if kind not in KINDS:
                raise ValueError(f"variable {name!r} has unknown type {kind!r}")
        self.types = types
        self.problems: list[dict[str, Any]] = []

    def refuse(self, path: str, code: str, zh: str, en: str, **extra: Any) -> None:
        self.problems.append(_problem(path, code, zh, en, **extra))

    # --- values ---------------------------------------------------------------------------------------------

    def literal(self, value: Any, path: str) -> Expr | None:
        kind = _literal_kind(value)
        if kind == "null":
            return NULL
        if kind == "boolean":
            return TRUE if value else FALSE
        if kind == "text":
            if "\x00" in value or not _encodable(value):
                self.refuse(path, "bad_literal", "文本含有不可用的字符", "The text holds a character that cannot be stored")
                return None
            return Expr("CAST(? AS VARCHAR)", (value,), "text")
        if kind == "number":
            if isinstance(value, int) and abs(value) > MAX_SAFE_INTEGER:
                self.refuse(path, "unsupported_number", f"整数超出范围：{value}", f"Integer out of range: {value}")
                return None
            parsed = _number_literal(value)
            if parsed is None:
                self.refuse(path, "unsupported_number", "数值须是有限数", "A number must be finite")
                return None
            text, precision, scale = parsed
            if scale > MAX_SCALE:
                self.refuse(path, "unsupported_number", f"数值最多保留 {MAX_SCALE} 位小数：{text}",
                            f"Numbers may have at most {MAX_SCALE} decimal places: {text}", value=text)
                return None
            if precision > MAX_PRECISION:
                self.refuse(path, "unsupported_number", f"数值位数过多：{text}", f"Number too long: {text}",
                            value=text)
                return None
            return Expr(f"CAST(? AS DECIMAL({precision},{scale}))", (text,), "number", False, (precision, scale))
        if isinstance(value, (list, tuple)):
            self.refuse(path, "unsupported_list", "列表只能用作 in 的右侧", "A list may only be the right side of in")
            return None
        self.refuse(path, "bad_literal", "不是 JSON 值", "Not a JSON value")
        return None

    def variable(self, args: list, path: str) -> Expr | None:
        name = args[0]
        if isinstance(name, (dict, list)):
            self.refuse(path, "dynamic_variable", "变量名须是固定文本", "Variable names must be literal text")
            return None
        if not isinstance(name, str) or name not in self.types:
            self.refuse(path, "unknown_variable", f"未知变量：{name}", f"Unknown variable: {name}",
                        variable=name, known=sorted(self.types))
            return None
        kind = self.types[name]
        column = Expr('"' + name.replace('"', '""') + '"', (), kind, True,
                      COLUMN_DECIMAL if kind == "number" else None)
        default = args[1] if len(args) > 1 else None
        if default is None:
            return column
        if isinstance(default, (dict, list)) or _literal_kind(default) != kind:
            self.refuse(f"{path}[1]", "unsupported_default", f"变量 {name} 的默认值须是同类型的固定值",
                        f"The default of {name} must be a literal of its type ({kind})", variable=name)
            return None
        value = self.literal(default, f"{path}[1]")
        if value is None:
            return None
        if kind == "number":
            decimal = _common(COLUMN_DECIMAL, value.decimal)
            return _join("COALESCE(", _cast(column, decimal), ", ", _cast(value, decimal), ")",
                         kind=kind, decimal=decimal)
        return _join("COALESCE(", column, ", ", value, ")", kind=kind)

    # --- operations ---------------------------------------------------------------------------------------

    def node(self, node: Any, path: str) -> Expr | None:
        if not isinstance(node, dict):
            return self.literal(node, path)
        ((op, args),) = node.items()
        args = list(args) if isinstance(args, (list, tuple)) else [args]
        here = f"{path}.{op}"
        if op == "var":
            return self.variable(args, here)
        if op in _UNSUPPORTED:
            self.refuse(here, "unsupported_operator", f"资格规则不支持运算符 {op}",
                        f"The operator {op} is not supported in eligibility rules", operator=op)
            return None
        if op in ("missing", "missing_some"):
            return self.missing(op, args, here)
        if op == "in":
            return self.membership(args, here)
        values = [self.node(arg, f"{here}[{i}]") for i, arg in enumerate(args)]
        if any(v is None for v in values):
            return None
        if op in jsonlogic.COMPARISONS:
            return self.comparison(op, values, here)
        if op in ("and", "or"):
            return _join("(", *_interleave([truth(v) for v in values], f" {op.upper()} "), ")")
        if op == "!":
            return _join("(NOT ", truth(values[0]), ")")
        if op == "!!":
            return truth(values[0])
        return self.arithmetic(op, values, here)

    def comparison(self, op: str, values: list[Expr], path: str) -> Expr | None:
        if any(v.kind in ("list", "absent") for v in values):
            self.refuse(path, "unsupported_comparison", "列表不能参与比较，请用 in",
                        "Lists cannot be compared; use in", operator=op)
            return None
        if len(values) == 3:
            return _join("(", self.pair(op, values[0], values[1]), " AND ", self.pair(op, values[1], values[2]), ")")
        return self.pair(op, values[0], values[1])

    def pair(self, op: str, a: Expr, b: Expr) -> Expr:
        if a.kind == "null" or b.kind == "null":
            return FALSE
        if a.kind != b.kind:  # strict: never equal; != is "both present"
            if op == "!=":
                return _join("(", _not_null(a), " AND ", _not_null(b), ")")
            return FALSE
        if op in _ORDERINGS and a.kind == "boolean":
            return FALSE
        if a.kind == "number":
            decimal = _common(a.decimal, b.decimal)
            a, b = _cast(a, decimal), _cast(b, decimal)
        symbol = {"==": "=", "!=": "<>"}.get(op, op)
        return _no_null(_join("(", a, f" {symbol} ", b, ")", nullable=a.nullable or b.nullable))

    def membership(self, args: list, path: str) -> Expr | None:
        needle = self.node(args[0], f"{path}[0]")
        haystack = args[1]
        if isinstance(haystack, (list, tuple)):
            elements, ok = [], True
            for i, element in enumerate(haystack):
                if _literal_kind(element) is None:
                    self.refuse(f"{path}[1][{i}]", "unsupported_in", "in 列表的元素须是固定值",
                                "The elements of an in list must be literal values")
                    ok = False
                    continue
                value = self.literal(element, f"{path}[1][{i}]")
                ok = ok and value is not None
                elements.append(value)
            if needle is None or not ok:
                return None
            return self.in_list(needle, elements, path)
        hay = self.node(haystack, f"{path}[1]")
        if needle is None or hay is None:
            return None
        if needle.kind in ("list", "absent") or hay.kind in ("number", "boolean", "absent"):
            self.refuse(path, "unsupported_in", "in 须是：值 in 列表、文本 in 列表变量，或文本 in 文本",
                        "in must be: a value in a list, a text in a list variable, or a text in a text")
            return None
        if needle.kind != "text" or hay.kind == "null":
            return FALSE
        function = "list_contains(" if hay.kind == "list" else "contains("
        return _no_null(_join(function, hay, ", ", needle, ")", nullable=needle.nullable or hay.nullable))

    def in_list(self, needle: Expr, elements: list[Expr], path: str) -> Expr | None:
        if needle.kind in ("list", "absent"):
            self.refuse(path, "unsupported_in", "列表不能在列表中查找", "A list cannot be looked up in a list")
            return None
        same = [e for e in elements if e.kind == needle.kind]  # strict: other kinds never match
        if needle.kind == "null" or not same:
            return FALSE
        if needle.kind == "number":
            decimal = _common(needle.decimal, *(e.decimal for e in same))
            needle, same = _cast(needle, decimal), [_cast(e, decimal) for e in same]
        return _no_null(_join("(", needle, " IN (", *_interleave(same, ", "), "))", nullable=needle.nullable))

    def arithmetic(self, op: str, values: list[Expr], path: str) -> Expr | None:
        if any(v.kind not in ("number", "null") for v in values):
            self.refuse(path, "unsupported_arithmetic", f"{op} 只能用于数值", f"{op} works on numbers only",
                        operator=op)
            return None
        if any(v.kind == "null" for v in values):
            return NULL  # a null operand makes the result null
        if len(values) == 1 and op != "-":
            return values[0]
        if len(values) == 1:
            return _join("(-", values[0], ")", kind="number", nullable=values[0].nullable, decimal=values[0].decimal)
        precision, scale = values[0].decimal
        for value in values[1:]:
            p, s = value.decimal
            if op == "*":
                precision, scale = precision + p, scale + s
            else:
                integer_digits = max(precision - scale, p - s) + 1
                scale = max(scale, s)
                precision = integer_digits + scale
        if precision > MAX_PRECISION:
            self.refuse(path, "unsupported_arithmetic", "计算结果可能超出精确计算的位数",
                        f"The result of {op} may exceed {MAX_PRECISION} digits", operator=op)
            return None
        wide = [_cast(v, (SQL_MAX_PRECISION, v.decimal[1])) for v in values]  # DuckDB's * does not widen
        return _join("CAST((", *_interleave(wide, f" {op} "), f") AS DECIMAL({precision},{scale}))", kind="number",
                     nullable=any(v.nullable for v in values), decimal=(precision, scale))

    def missing(self, op: str, args: list, path: str) -> Expr | None:
        """``missing`` / ``missing_some`` in a truthiness context only (their list value is refused)."""
        need = None
        if op == "missing_some":
            need, args = args[0], args[1]
            if _literal_kind(need) != "number" or _number_literal(need) is None:
                self.refuse(f"{path}[0]", "unsupported_missing", "missing_some 的个数须是固定数值",
                            "The count of missing_some must be a literal number")
                return None
            names = list(args) if isinstance(args, (list, tuple)) else [args]
        elif len(args) == 1 and isinstance(args[0], (list, tuple)):
            names = list(args[0])
        else:
            names = args
        absent: list[Expr] = []
        for name in names:
            if isinstance(name, (dict, list, tuple)):
                self.refuse(path, "dynamic_variable", "变量名须是固定文本", "Variable names must be literal text")
                return None
            if not isinstance(name, str) or name not in self.types:
                self.refuse(path, "unknown_variable", f"未知变量：{name}", f"Unknown variable: {name}",
                            variable=name, known=sorted(self.types))
                return None
            column = '"' + name.replace('"', '""') + '"'
            blank = f" OR {column} = ''" if self.types[name] == "text" else ""
            absent.append(Expr(f"({column} IS NULL{blank})"))
        if op == "missing":
            if not absent:
                return NONE_ABSENT
            return _join("(", *_interleave(absent, " OR "), ")", kind="absent")
        # truthy(missing_some) <=> fewer present than needed, and at least one absent
        limit = min(math.ceil(Decimal(_number_literal(need)[0])), len(absent))
        if limit <= 0:
            return NONE_ABSENT
        present = [_join("(CASE WHEN ", a, " THEN 0 ELSE 1 END)") for a in absent]
        return _join("((", *_interleave(present, " + "), f") < {limit})", kind="absent")


def _interleave(items: list[Expr], separator: str) -> list[str | Expr]:
    parts: list[str | Expr] = []
    for i, item in enumerate(items):
        parts += [separator] if i else []
        parts.append(item)
    return parts


def _compile(logic: Any, types: Mapping[str, str]) -> tuple[Expr | None, list[dict[str, Any]]]:
    structural = jsonlogic.validate(logic)
    if structural:
        return None, structural
    compiler = _Compiler(types)
    try:
        expr = compiler.node(logic, "$")
    except _TooWide as wide:
        return None, [_problem("$", "unsupported_number", f"数值组合后位数过多（{wide.args[0]} 位）",
                               f"The numbers combined need too many digits ({wide.args[0]})")]
    if compiler.problems or expr is None:
        return None, compiler.problems
    return truth(expr), []


def compile_rule(logic: Any, types: Mapping[str, str]) -> tuple[str, list]:
    """The rule as a DuckDB boolean expression over the snapshot's columns, never NULL, and its
    ``?`` parameters in order. Raises ``CompileError`` when the rule is outside the subset."""
    expr, found = _compile(logic, types)
    if expr is None:
        raise CompileError(found)
    return expr.sql, list(expr.params)


def problems(logic: Any, types: Mapping[str, str]) -> list[dict[str, Any]]:
    """Why the rule cannot be compiled (empty: it can), for validation when a policy is saved."""
    return _compile(logic, types)[1]

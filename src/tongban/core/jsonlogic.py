"""tongban's JSON-Logic: a defined subset, with defined semantics, for rules stored as data
(秒批 instant-approval rules of service items, eligibility rules of policies).

Hand-written on purpose: the JSON-Logic packages on PyPI are unmaintained, and their semantics
are JavaScript's (a missing variable compares like 0, ``==`` is loose, ``"1" == 1``), which a
SQL compilation of the same rule cannot reproduce (``LIMITS.md``, "Bulk rule matching"). The
meaning below is ours, is the same for the row-by-row evaluator here and for any set-wise
compilation, and is tested.

A rule is JSON: an object with exactly ONE key is an operation ``{"op": [args]}`` (a single
non-list argument may be written bare: ``{"var": "form.age"}``); a list is evaluated element by
element; anything else is a literal.

Operators (and only these):

=============  ==========================================================================
``var``        ``{"var": "a.b"}`` / ``{"var": ["a.b", default]}``: the value at the dotted path
               (list positions by number); ``""`` is the whole data. A missing path, or a
               null value, gives ``default`` (null when none is given).
``==`` ``!=``  strict: no coercion between types (``"1" == 1`` is false); numbers of any
               kind compare by value (``1 == 1.0``); booleans are not numbers.
``<`` ``<=``   numbers against numbers (exact, as ``Decimal``), strings against strings (code
``>`` ``>=``   points: ISO dates order correctly); any other pair is false. ``<`` and ``<=``
               take a third argument: ``{"<": [0, x, 10]}`` is ``0 < x < 10``.
null           EVERY comparison with null is false — ``==``, ``!=`` and the orderings alike
               (SQL-like: ``x != 5`` is false when x is missing). Comparisons are two-valued,
               so ``{"!": {"==": [x, 5]}}`` IS true when x is missing; a SQL compilation must
               wrap each comparison in ``COALESCE(..., FALSE)`` to agree. Test for absence with
               ``missing`` or ``!``.
``!`` ``!!``   negation / truthiness. Falsy: null, false, 0, ``""``, ``[]``, ``{}``
               (``"0"`` is truthy). Everything else is truthy.
``and`` ``or`` short-circuit, and answer a BOOLEAN (not the deciding operand, as JavaScript's do).
``in``         ``{"in": [x, list]}``: x equals (strict ``==``) an element; ``{"in": [s, text]}``:
               the string s is a substring of the string text; anything else (a null) is false.
``if``         ``[c1, v1, c2, v2, ..., else]``: the value after the first truthy condition,
               else the last odd argument, else null.
``+ - * /``    arithmetic on numbers; a string holding a decimal number (``"100.5"``) is read as
               that number (so ``{"+": [x]}`` casts); a null or non-numeric operand makes the
               result null, as does a division by zero. Exact decimal arithmetic; a result
               that is a whole number is an ``int``. ``-`` with one argument negates.
``missing``    the variable names (of those given, or of the list given) whose value is
               missing, null or ``""``.
``missing_some`` ``[n, [names]]``: ``[]`` when at least n are present, else the missing ones.
=============  ==========================================================================

``evaluate(rule, data)`` answers the value (raises ``RuleError`` for a malformed rule, never for
any data); ``explain(rule, data)`` answers ``(passed, reasons)`` with one readable line per
condition; ``validate(rule, variables)`` lists the problems of a rule before it is stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, DivisionByZero, InvalidOperation
from typing import Any

MAX_DEPTH = 64

# operator -> (minimum, maximum) number of arguments (None: no maximum)
ARITY: dict[str, tuple[int, int | None]] = {
    "var": (1, 2),
    "==": (2, 2), "!=": (2, 2),
    "<": (2, 3), "<=": (2, 3), ">": (2, 2), ">=": (2, 2),
    "and": (1, None), "or": (1, None),
    "!": (1, 1), "!!": (1, 1),
    "in": (2, 2),
    "if": (1, None),
    "+": (1, None), "*": (1, None), "-": (1, 2), "/": (2, 2),
    "missing": (0, None), "missing_some": (2, 2),
}
OPERATORS = frozenset(ARITY)
COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})

# Type names ``validate`` understands for variables (anything else: not checked).
NUMERIC_TYPES = frozenset({"number", "integer", "decimal"})
TEXT_TYPES = frozenset({"string", "text", "textarea", "date", "datetime", "code", "choice", "select", "radio",
                        "id_number", "uscc", "phone", "email"})
BOOLEAN_TYPES = frozenset({"boolean", "checkbox"})

_NUMBER_TEXT = re.compile(r"\s*[-+]?(\d+(\.\d*)?|\.\d+)\s*\Z")
_MISSING = object()


class RuleError(ValueError):
    """The rule itself is malformed (unknown operator, wrong number of arguments, too deep)."""


# --- values -------------------------------------------------------------------------------------------------


def is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    return isinstance(value, Decimal) and value.is_finite()


def _decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def truthy(value: Any) -> bool:
    if value is None or value is False:
        return False
    if is_number(value):
        return _decimal(value) != 0
    if isinstance(value, (str, list, tuple, dict)):
        return len(value) > 0
    return True


def strict_equal(a: Any, b: Any) -> bool:
    """``==``: false when either side is null; numbers by value; otherwise same type and equal."""
    if a is None or b is None:
        return False
    if is_number(a) and is_number(b):
        return _decimal(a) == _decimal(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(strict_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(strict_equal(a[k], b[k]) for k in a)
    return False


def _ordered(a: Any, b: Any, test: Callable[[Any, Any], bool]) -> bool:
    if is_number(a) and is_number(b):
        return test(_decimal(a), _decimal(b))
    if isinstance(a, str) and isinstance(b, str):
        return test(a, b)
    return False


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda x, y: x < y, "<=": lambda x, y: x <= y, ">": lambda x, y: x > y, ">=": lambda x, y: x >= y,
}


def _number_or_none(value: Any) -> Decimal | None:
    if is_number(value):
        return _decimal(value)
    if isinstance(value, str) and _NUMBER_TEXT.match(value):
        return Decimal(value.strip())
    return None


def plain(value: Any) -> Any:
    """A result made JSON-able: decimals become int (whole) or float."""
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return int(value)
        return float(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def resolve(data: Any, path: Any) -> Any:
    """The value at a dotted ``path`` of ``data`` (``_MISSING`` sentinel when absent)."""
    if path is None or path == "":
        return data
    if isinstance(path, bool):
        return _MISSING
    parts = [path] if isinstance(path, int) else str(path).split(".")
    current = data
    for part in parts:
        if isinstance(current, Mapping):
            if part in current:
                current = current[part]
                continue
            if isinstance(part, int) and str(part) in current:
                current = current[str(part)]
                continue
            return _MISSING
        if isinstance(current, (list, tuple)):
            try:
                index = int(part)
            except (TypeError, ValueError):
                return _MISSING
            if not 0 <= index < len(current):
                return _MISSING
            current = current[index]
            continue
        return _MISSING
    return current


def _absent(data: Any, name: Any) -> bool:
    value = resolve(data, name)
    return value is _MISSING or value is None or value == ""


# --- evaluation ---------------------------------------------------------------------------------------------


def _operation(rule: dict) -> tuple[str, list]:
    if len(rule) != 1:
        raise RuleError(f"an operation is an object with exactly one key, got {sorted(rule)!r}")
    ((op, args),) = rule.items()
    if op not in ARITY:
        raise RuleError(f"unknown operator {op!r}")
    args = list(args) if isinstance(args, (list, tuple)) else [args]
    low, high = ARITY[op]
    if len(args) < low or (high is not None and len(args) > high):
        expected = f"{low}" if low == high else (f"{low}–{high}" if high is not None else f"at least {low}")
        raise RuleError(f"{op!r} takes {expected} argument(s), got {len(args)}")
    return op, args


def evaluate(rule: Any, data: Any = None) -> Any:
    """The value of ``rule`` over ``data`` (a dict). Raises ``RuleError`` only for a malformed rule."""
    return plain(_eval(rule, {} if data is None else data, 0))


def _eval(rule: Any, data: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise RuleError(f"the rule is nested deeper than {MAX_DEPTH} levels")
    if isinstance(rule, (list, tuple)):
        return [_eval(r, data, depth + 1) for r in rule]
    if not isinstance(rule, dict):
        return rule
    op, args = _operation(rule)
    depth += 1

    def ev(arg: Any) -> Any:
        return _eval(arg, data, depth)

    if op == "var":
        path = ev(args[0])
        value = resolve(data, path)
        if value is _MISSING or value is None:
            return ev(args[1]) if len(args) > 1 else None
        return value
    if op == "==":
        return strict_equal(ev(args[0]), ev(args[1]))
    if op == "!=":
        a, b = ev(args[0]), ev(args[1])
        return a is not None and b is not None and not strict_equal(a, b)
    if op in _ORDER:
        values = [ev(a) for a in args]
        test = _ORDER[op]
        return all(_ordered(values[i], values[i + 1], test) for i in range(len(values) - 1))
    if op == "and":
        return all(truthy(ev(a)) for a in args)
    if op == "or":
        return any(truthy(ev(a)) for a in args)
    if op == "!":
        return not truthy(ev(args[0]))
    if op == "!!":
        return truthy(ev(args[0]))
    if op == "in":
        needle, haystack = ev(args[0]), ev(args[1])
        if needle is None:
            return False
        if isinstance(haystack, (list, tuple)):
            return any(strict_equal(needle, h) for h in haystack)
        if isinstance(haystack, str):
            return isinstance(needle, str) and needle in haystack
        return False
    if op == "if":
        for i in range(0, len(args) - 1, 2):
            if truthy(ev(args[i])):
                return ev(args[i + 1])
        return ev(args[-1]) if len(args) % 2 == 1 else None
    if op in ("+", "*", "-", "/"):
        return _arithmetic(op, [_number_or_none(ev(a)) for a in args])
    if op == "missing":
        names = ev(args[0]) if len(args) == 1 and isinstance(args[0], (dict, list)) else [ev(a) for a in args]
        if not isinstance(names, list):
            names = [names]
        return [name for name in names if _absent(data, name)]
    # missing_some
    need, names = ev(args[0]), ev(args[1])
    names = names if isinstance(names, list) else [names]
    absent = [name for name in names if _absent(data, name)]
    needed = _number_or_none(need) or Decimal(0)
    return [] if len(names) - len(absent) >= needed else absent


def _arithmetic(op: str, numbers: list[Decimal | None]) -> Decimal | None:
    if any(n is None for n in numbers):
        return None
    try:
        if op == "+":
            return sum(numbers, Decimal(0))
        if op == "*":
            result = Decimal(1)
            for n in numbers:
                result *= n
            return result
        if op == "-":
            return -numbers[0] if len(numbers) == 1 else numbers[0] - numbers[1]
        if numbers[1] == 0:
            return None
        return numbers[0] / numbers[1]
    except (InvalidOperation, DivisionByZero, OverflowError):
        return None


# --- explanation --------------------------------------------------------------------------------------------

_SYMBOLS = {"==": "=", "!=": "≠", "<": "<", "<=": "≤", ">": ">", ">=": "≥"}


def _literal(value: Any) -> str:
    return json.dumps(plain(value), ensure_ascii=False, default=str)


ValueLabels = Mapping[str, Mapping[Any, str]]


def _shown(value: Any, names: Mapping[Any, str] | None) -> str:
    """A literal as a reader sees it: a coded value by its label (unquoted) when one is known."""
    if names:
        if isinstance(value, (list, tuple)):
            return "[" + ", ".join(_shown(v, names) for v in value) + "]"
        if isinstance(value, (str, bool)) and value in names:
            return names[value]
    return _literal(value)


def _var_name(node: Any) -> str | None:
    if isinstance(node, dict) and len(node) == 1 and "var" in node:
        ref = node["var"]
        name = ref[0] if isinstance(ref, list) and ref else ref
        return name if isinstance(name, str) else None
    return None


def render(rule: Any, labels: Mapping[str, str] | None = None, values: ValueLabels | None = None) -> str:
    """The rule as one readable line: variables by their label when ``labels`` names them, and
    coded values compared with a variable by their label when ``values`` ({variable: {value:
    label}}) has one (``企业规模 in [微型, 小型]`` rather than ``size_class in ["micro", …]``)."""
    labels = labels or {}
    if isinstance(rule, (list, tuple)):
        return "[" + ", ".join(render(r, labels, values) for r in rule) + "]"
    if not isinstance(rule, dict) or len(rule) != 1:
        return _literal(rule)
    ((op, args),) = rule.items()
    args = list(args) if isinstance(args, (list, tuple)) else [args]
    coded = None
    if values and (op in _SYMBOLS or op == "in"):
        named = [n for n in map(_var_name, args) if n]
        coded = next((values[n] for n in named if n in values), None)
    parts = [_shown(a, coded) if coded and not isinstance(a, dict) else render(a, labels, values) for a in args]
    if op == "var":
        name = args[0] if args else ""
        shown = labels.get(name, str(name)) if isinstance(name, str) else parts[0]
        return shown if len(args) < 2 else f"{shown} ?? {parts[1]}"
    if op in _SYMBOLS and len(parts) >= 2:
        return f" {_SYMBOLS[op]} ".join(parts)
    if op in ("and", "or"):
        return "(" + f" {op} ".join(parts) + ")"
    if op == "!" and parts:
        return f"not ({parts[0]})"
    if op == "!!" and parts:
        return f"{parts[0]} is present"
    if op == "in" and len(parts) == 2:
        return f"{parts[0]} in {parts[1]}"
    if op in ("+", "-", "*", "/") and len(parts) >= 2:
        return "(" + f" {op} ".join(parts) + ")"
    return f"{op}({', '.join(parts)})"


def variables_of(rule: Any) -> list[str]:
    """The literal variable names a rule reads, in order of first use (``var``, ``missing*``)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, (list, tuple)):
            for n in node:
                walk(n)
            return
        if not isinstance(node, dict) or len(node) != 1:
            return
        ((op, args),) = node.items()
        args = list(args) if isinstance(args, (list, tuple)) else [args]
        if op == "var" and args and isinstance(args[0], str) and args[0]:
            if args[0] not in found:
                found.append(args[0])
        elif op == "missing":
            names = args[0] if len(args) == 1 and isinstance(args[0], list) else args
            for name in names:
                if isinstance(name, str) and name not in found:
                    found.append(name)
        elif op == "missing_some" and len(args) == 2 and isinstance(args[1], list):
            for name in args[1]:
                if isinstance(name, str) and name not in found:
                    found.append(name)
        for arg in args:
            walk(arg)

    walk(rule)
    return found


def _conditions(rule: Any) -> list[Any]:
    """The leaves of the rule's and/or structure (each explained on its own line)."""
    if isinstance(rule, dict) and len(rule) == 1:
        ((op, args),) = rule.items()
        if op in ("and", "or") and isinstance(args, (list, tuple)):
            leaves = []
            for arg in args:
                leaves.extend(_conditions(arg))
            return leaves
    return [rule]


def explain(rule: Any, data: Any = None, labels: Mapping[str, str] | None = None,
            values: ValueLabels | None = None) -> tuple[Any, list[dict[str, Any]]]:
    """``(result, [{"condition": text, "passed": bool}])``: the rule's value and, for every
    condition joined by and/or (all of them, not only up to the first failure), a readable line
    with the values it read, e.g. ``form.age ≥ 18 (form.age = 16)``."""
    data = {} if data is None else data
    result = evaluate(rule, data)
    reasons = []
    for leaf in _conditions(rule):
        names = variables_of(leaf)
        shown = []
        for name in names:
            value = resolve(data, name)
            label = (labels or {}).get(name, name)
            absent = value is _MISSING or value is None
            shown.append(f"{label} = {'null' if absent else _shown(value, (values or {}).get(name))}")
        text = render(leaf, labels, values)
        if shown:
            text += f" ({', '.join(shown)})"
        reasons.append({"condition": text, "passed": truthy(evaluate(leaf, data))})
    return result, reasons


# --- validation ---------------------------------------------------------------------------------------------


def _problem(path: str, code: str, message_zh: str, message_en: str, **extra: Any) -> dict[str, Any]:
    return {"path": path, "code": code, "message_zh": message_zh, "message_en": message_en, **extra}


def _known(name: str, variables: Mapping[str, Any]) -> bool:
    return name in variables or any(v.startswith(name + ".") for v in variables)


def _kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "text"
    return None


def _declared(type_name: Any) -> str | None:
    if not isinstance(type_name, str):
        return None
    if type_name in NUMERIC_TYPES:
        return "number"
    if type_name in TEXT_TYPES:
        return "text"
    if type_name in BOOLEAN_TYPES:
        return "boolean"
    return None


def validate(rule: Any, variables: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every problem of ``rule`` (empty: fine to store): ``not_an_operation``, ``unknown_operator``,
    ``arity``, ``too_deep``, ``bad_literal`` and, when ``variables`` ({name: type}) is given,
    ``unknown_variable``, ``dynamic_variable`` (a computed name) and ``type_mismatch`` (a
    variable of a numeric type compared with a string literal, or a text one with a number —
    strict ``==`` would never match). Each problem: path, code, message_zh, message_en."""
    problems: list[dict[str, Any]] = []
    _check(rule, "$", 0, variables, problems)
    return problems


def _check(node: Any, path: str, depth: int, variables: Mapping[str, Any] | None, problems: list) -> None:
    if depth > MAX_DEPTH:
        problems.append(_problem(path, "too_deep", f"规则嵌套超过 {MAX_DEPTH} 层",
                                 f"The rule is nested deeper than {MAX_DEPTH} levels"))
        return
    if isinstance(node, (list, tuple)):
        for i, item in enumerate(node):
            _check(item, f"{path}[{i}]", depth + 1, variables, problems)
        return
    if not isinstance(node, dict):
        if node is not None and not isinstance(node, (str, bool, int, float, Decimal)):
            problems.append(_problem(path, "bad_literal", "不是 JSON 值", "Not a JSON value"))
        return
    if len(node) != 1:
        problems.append(_problem(path, "not_an_operation", "运算须是只有一个键的对象",
                                 "An operation is an object with exactly one key", keys=sorted(map(str, node))))
        return
    ((op, args),) = node.items()
    here = f"{path}.{op}"
    if op not in ARITY:
        problems.append(_problem(here, "unknown_operator", f"不支持的运算符：{op}", f"Unknown operator: {op}",
                                 operator=op, allowed=sorted(OPERATORS)))
        return
    args = list(args) if isinstance(args, (list, tuple)) else [args]
    low, high = ARITY[op]
    if len(args) < low or (high is not None and len(args) > high):
        expected = str(low) if low == high else (f"{low}–{high}" if high is not None else f"≥ {low}")
        problems.append(_problem(here, "arity", f"{op} 需要 {expected} 个参数，实际 {len(args)} 个",
                                 f"{op} takes {expected} argument(s), got {len(args)}", operator=op,
                                 expected=expected, got=len(args)))
    if variables is not None:
        _check_names(op, args, here, variables, problems)
        if op in COMPARISONS or op == "in":
            _check_types(op, args, here, variables, problems)
    for i, arg in enumerate(args):
        _check(arg, f"{here}[{i}]", depth + 1, variables, problems)


def _check_names(op: str, args: list, path: str, variables: Mapping[str, Any], problems: list) -> None:
    if op == "var":
        names = args[:1]
    elif op == "missing":
        names = args[0] if len(args) == 1 and isinstance(args[0], list) else args
    elif op == "missing_some":
        names = args[1] if len(args) == 2 and isinstance(args[1], list) else []
    else:
        return
    for name in names:
        if isinstance(name, dict):
            problems.append(_problem(path, "dynamic_variable", "变量名须是固定文本",
                                     "Variable names must be literal text", operator=op))
        elif not isinstance(name, str) or not name:
            problems.append(_problem(path, "unknown_variable", "变量名须是非空文本",
                                     "A variable name must be non-empty text", variable=name))
        elif not _known(name, variables):
            problems.append(_problem(path, "unknown_variable", f"未知变量：{name}", f"Unknown variable: {name}",
                                     variable=name, known=sorted(variables)))


def _check_types(op: str, args: list, path: str, variables: Mapping[str, Any], problems: list) -> None:
    if len(args) < 2:
        return
    pairs = [(args[0], args[1])]
    if op == "in":
        pairs = [(args[0], v) for v in args[1]] if isinstance(args[1], list) else []
    elif len(args) == 3:
        pairs.append((args[1], args[2]))
    for a, b in pairs:
        for var, literal in ((a, b), (b, a)):
            if not (isinstance(var, dict) and len(var) == 1 and "var" in var):
                continue
            ref = var["var"]
            name = ref[0] if isinstance(ref, list) and ref else ref
            if not isinstance(name, str) or name not in variables:
                continue
            declared, given = _declared(variables[name]), _kind(literal)
            if isinstance(literal, dict) or declared is None or given is None:
                continue
            ordering = op in _ORDER
            if declared != given or (ordering and declared == "boolean"):
                problems.append(_problem(
                    path, "type_mismatch", f"变量 {name}（{variables[name]}）与 {_literal(literal)} 类型不符，永不相等",
                    f"Variable {name} ({variables[name]}) is compared with {_literal(literal)} of another "
                    "type: strict comparison never matches", variable=name, type=variables[name]))

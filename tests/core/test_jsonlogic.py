"""tongban's JSON-Logic: the defined semantics (missing = null, comparisons with null false,
strict ==, exact numbers), explain and validate."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tongban.core import jsonlogic as jl
from tongban.core.jsonlogic import RuleError, evaluate, explain, validate

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=False, allow_infinity=False, width=32), st.text(max_size=5))


def var(name, *default):
    return {"var": [name, *default]} if default else {"var": name}


# --- var and missing values -------------------------------------------------------------------------------------


def test_var_paths_defaults_and_whole_data():
    data = {"form": {"age": 30, "kids": [{"name": "a"}]}, "x": None}
    assert evaluate(var("form.age"), data) == 30
    assert evaluate(var("form.kids.0.name"), data) == "a"
    assert evaluate(var("form.kids.5.name"), data) is None
    assert evaluate(var("form.nope"), data) is None
    assert evaluate(var("form.nope", 7), data) == 7
    assert evaluate(var("x", "d"), data) == "d"  # null takes the default
    assert evaluate(var(""), {"a": 1}) == {"a": 1}
    assert evaluate({"var": "form.age"}, None) is None
    assert evaluate(var("form.age.deeper"), data) is None


@pytest.mark.parametrize("op", ["==", "!=", "<", "<=", ">", ">="])
def test_every_comparison_with_null_is_false(op):
    assert evaluate({op: [var("missing"), 5]}, {}) is False
    assert evaluate({op: [5, var("missing")]}, {}) is False
    assert evaluate({op: [None, None]}, {}) is False


def test_not_of_a_comparison_on_a_missing_value_is_true():
    # two-valued: documented (a SQL compilation wraps comparisons in COALESCE(..., FALSE))
    assert evaluate({"!": {"==": [var("x"), 5]}}, {}) is True


# --- equality ------------------------------------------------------------------------------------------------------


def test_equality_is_strict_but_numbers_compare_by_value():
    assert evaluate({"==": ["1", 1]}) is False
    assert evaluate({"!=": ["1", 1]}) is True
    assert evaluate({"==": [1, 1.0]}) is True
    assert evaluate({"==": [0.1, Decimal("0.1")]}) is True
    assert evaluate({"==": [True, 1]}) is False
    assert evaluate({"==": [False, 0]}) is False
    assert evaluate({"==": [True, True]}) is True
    assert evaluate({"==": ["a", "a"]}) is True
    assert evaluate({"==": [[1, "a"], [1.0, "a"]]}) is True
    assert evaluate({"==": [[1], ["1"]]}) is False


@given(scalars, scalars)
def test_equality_is_symmetric_and_not_equal_is_its_complement_without_nulls(a, b):
    assert evaluate({"==": [a, b]}) == evaluate({"==": [b, a]})
    if a is not None and b is not None:
        assert evaluate({"!=": [a, b]}) is (not evaluate({"==": [a, b]}))


# --- ordering -----------------------------------------------------------------------------------------------------


def test_ordering_numbers_and_strings_only():
    assert evaluate({"<": [1, 2]}) is True
    assert evaluate({"<": [0.1 + 0.2, 0.3]}) is False  # exact decimals: 0.30000000000000004 > 0.3
    assert evaluate({">=": [var("a"), 18]}, {"a": 18}) is True
    assert evaluate({"<": ["2020-01-01", "2021-06-30"]}) is True  # ISO dates
    assert evaluate({"<": ["1", 2]}) is False  # no coercion
    assert evaluate({">": [True, 0]}) is False
    assert evaluate({"<": [1, 5, 10]}) is True
    assert evaluate({"<": [1, 10, 10]}) is False
    assert evaluate({"<=": [1, 10, 10]}) is True


@given(st.integers(-10**9, 10**9), st.integers(-10**9, 10**9))
def test_integer_ordering_agrees_with_python(a, b):
    assert evaluate({"<": [a, b]}) is (a < b)
    assert evaluate({"<=": [a, b]}) is (a <= b)
    assert evaluate({">": [a, b]}) is (a > b)
    assert evaluate({">=": [a, b]}) is (a >= b)


@given(st.floats(allow_nan=False, allow_infinity=False), st.floats(allow_nan=False, allow_infinity=False))
def test_float_ordering_agrees_with_python(a, b):
    assert evaluate({"<": [a, b]}) is (a < b)
    assert evaluate({"==": [a, b]}) is (a == b)


# --- logic ----------------------------------------------------------------------------------------------------------


def test_truthiness_and_boolean_and_or():
    for falsy in (None, False, 0, 0.0, "", [], {}):
        assert jl.truthy(falsy) is False
    for true in ("0", "a", 1, -1, [0], True):
        assert jl.truthy(true) is True
    assert evaluate({"and": [1, "a"]}) is True  # booleans, not the deciding operand
    assert evaluate({"and": [1, 0]}) is False
    assert evaluate({"or": [0, "x"]}) is True
    assert evaluate({"or": [0, ""]}) is False
    assert evaluate({"!": [[]]}) is True
    assert evaluate({"!!": "0"}) is True
    assert evaluate({"!": var("x")}, {}) is True


@given(scalars)
def test_not_and_double_not_are_complements(value):
    assert evaluate({"!": [value]}) is (not evaluate({"!!": [value]}))


def test_and_short_circuits():
    # the second operand is malformed, and never evaluated
    assert evaluate({"and": [False, {"nope": 1}]}) is False
    assert evaluate({"or": [True, {"nope": 1}]}) is True


def test_in_list_and_substring():
    assert evaluate({"in": [var("s"), ["10", "20"]]}, {"s": "20"}) is True
    assert evaluate({"in": [20, ["10", "20"]]}) is False  # strict
    assert evaluate({"in": [20, [10, 20.0]]}) is True
    assert evaluate({"in": ["杭州", var("addr")]}, {"addr": "浙江省杭州市"}) is True
    assert evaluate({"in": ["广州", var("addr")]}, {"addr": "浙江省杭州市"}) is False
    assert evaluate({"in": [var("x"), [None, 1]]}, {}) is False
    assert evaluate({"in": ["a", var("x")]}, {}) is False
    assert evaluate({"in": [1, "123"]}) is False


def test_if_chains():
    rule = {"if": [{"<": [var("t"), 0]}, "freezing", {"<": [var("t"), 20]}, "cool", "warm"]}
    assert evaluate(rule, {"t": -5}) == "freezing"
    assert evaluate(rule, {"t": 10}) == "cool"
    assert evaluate(rule, {"t": 30}) == "warm"
    assert evaluate({"if": [False, 1]}) is None
    assert evaluate({"if": ["only"]}) == "only"


# --- arithmetic ------------------------------------------------------------------------------------------------------


def test_arithmetic_exact_with_numeric_strings_and_nulls():
    assert evaluate({"+": [0.1, 0.2]}) == 0.3
    assert evaluate({"+": [1, 2, 3]}) == 6 and isinstance(evaluate({"+": [1, 2, 3]}), int)
    assert evaluate({"*": [2, "1.5"]}) == 3
    assert evaluate({"-": [10, 4]}) == 6
    assert evaluate({"-": [4]}) == -4
    assert evaluate({"/": [1, 4]}) == 0.25
    assert evaluate({"/": [1, 0]}) is None
    assert evaluate({"+": [1, var("x")]}, {}) is None
    assert evaluate({"+": [1, "abc"]}) is None
    assert evaluate({"+": [True]}) is None
    assert evaluate({">": [{"+": [var("capital")]}, 100]}, {"capital": "100.5"}) is True  # the explicit cast
    assert evaluate({">": [var("capital"), 100]}, {"capital": "100.5"}) is False  # no implicit one


@given(st.integers(-10**6, 10**6), st.integers(-10**6, 10**6))
def test_integer_arithmetic_agrees_with_python(a, b):
    assert evaluate({"+": [a, b]}) == a + b
    assert evaluate({"-": [a, b]}) == a - b
    assert evaluate({"*": [a, b]}) == a * b


# --- missing ----------------------------------------------------------------------------------------------------------


def test_missing_and_missing_some():
    data = {"form": {"a": 1, "b": "", "c": None}}
    assert evaluate({"missing": ["form.a", "form.b", "form.c", "form.d"]}, data) == ["form.b", "form.c", "form.d"]
    assert evaluate({"missing": "form.a"}, data) == []
    assert evaluate({"missing_some": [1, ["form.a", "form.d"]]}, data) == []
    assert evaluate({"missing_some": [2, ["form.a", "form.d"]]}, data) == ["form.d"]
    assert evaluate({"!": {"missing": ["form.a"]}}, data) is True


# --- malformed rules -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", [{"nope": [1]}, {"==": [1]}, {"==": [1, 2, 3]}, {"!": [1, 2]}, {"a": 1, "b": 2},
                                  {"var": []}, {"/": [1]}])
def test_malformed_rules_raise_rule_error(rule):
    with pytest.raises(RuleError):
        evaluate(rule, {})


def test_too_deep_rules_are_refused():
    rule: object = True
    for _ in range(jl.MAX_DEPTH + 5):
        rule = {"!": [rule]}
    with pytest.raises(RuleError):
        evaluate(rule, {})
    assert any(p["code"] == "too_deep" for p in validate(rule))


json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=8)


@given(json_values)
def test_evaluation_never_fails_on_any_data(data):
    rule = {"and": [{">=": [var("a.b"), 1]}, {"in": [var("c"), ["x", 1]]}, {"!": var("d")},
                    {"==": [{"+": [var("e"), 1]}, 2]}, {"missing": ["a", "z"]}, {"if": [var("f"), 1, 2]}]}
    result, reasons = explain(rule, {"a": data, "c": data, "d": data, "e": data, "f": data})
    assert result in (True, False)
    assert len(reasons) == 6


# --- explain ---------------------------------------------------------------------------------------------------------


def test_explain_lists_every_condition_with_values_and_labels():
    rule = {"and": [{">=": [var("form.age"), 60]}, {"==": [var("data.civil.marital_status"), "20"]},
                    {"or": [{"!!": var("wallet.marriage_certificate")}, {"in": [var("form.city"), ["杭州", "宁波"]]}]}]}
    data = {"form": {"age": 58, "city": "杭州"}, "data": {"civil": {"marital_status": "20"}}, "wallet": {}}
    result, reasons = explain(rule, data, {"form.age": "年龄"})
    assert result is False
    assert [r["passed"] for r in reasons] == [False, True, False, True]
    assert reasons[0]["condition"] == "年龄 ≥ 60 (年龄 = 58)"
    assert reasons[1]["condition"] == 'data.civil.marital_status = "20" (data.civil.marital_status = "20")'
    assert "wallet.marriage_certificate = null" in reasons[2]["condition"]
    assert reasons[3]["condition"].startswith('form.city in ["杭州", "宁波"]')


def test_explain_shows_coded_values_by_their_labels():
    rule = {"and": [{"==": [var("marital"), "20"]}, {"in": [var("size"), ["micro", "small", "other"]]},
                    {"in": ["high_tech", var("certificates")]}, {"==": [var("active"), True]},
                    {">=": [var("age"), 60]}]}
    data = {"marital": "20", "size": "large", "certificates": ["high_tech", "food"], "active": False, "age": 61}
    values = {"marital": {"20": "已婚"}, "size": {"micro": "微型", "small": "小型"},
              "certificates": {"high_tech": "高新技术企业证书"}, "active": {True: "是", False: "否"}}
    _, reasons = explain(rule, data, {"size": "企业规模"}, values)
    assert [r["condition"] for r in reasons] == [
        "marital = 已婚 (marital = 已婚)",
        '企业规模 in [微型, 小型, "other"] (企业规模 = "large")',  # an unlabelled value stays a quoted literal
        '高新技术企业证书 in certificates (certificates = [高新技术企业证书, "food"])',
        "active = 是 (active = 否)",
        "age ≥ 60 (age = 61)",  # numbers are never relabelled
    ]
    assert [r["passed"] for r in reasons] == [True, False, True, False, True]


@given(st.integers(0, 120), st.one_of(st.none(), st.sampled_from(["10", "20", "30"])))
def test_explain_result_equals_evaluate(age, status):
    rule = {"or": [{"and": [{">=": [var("age"), 18]}, {"==": [var("s"), "20"]}]}, {"<": [var("age"), 3]}]}
    data = {"age": age, "s": status}
    result, reasons = explain(rule, data)
    assert result == evaluate(rule, data)
    assert len(reasons) == 3


# --- validate ---------------------------------------------------------------------------------------------------------


def test_validate_finds_every_problem():
    variables = {"form.age": "number", "form.name": "text", "data.civil.marital_status": "code",
                 "wallet.marriage_certificate": "boolean"}
    good = {"and": [{">=": [var("form.age"), 18]}, {"==": [var("data.civil.marital_status"), "20"]},
                    {"!!": var("wallet.marriage_certificate")}, {"missing": ["form.name"]}]}
    assert validate(good, variables) == []
    assert validate(good) == []
    bad = {"and": [{"xor": [1, 2]}, {"==": [var("form.agee"), 1]}, {"!": [1, 2]}, {"a": 1, "b": 2},
                   {"==": [var("form.age"), "18"]}, {"var": {"var": "form.name"}}, {"missing": ["form.zzz"]}]}
    problems = validate(bad, variables)
    codes = [p["code"] for p in problems]
    assert codes.count("unknown_operator") == 1
    assert codes.count("unknown_variable") == 2  # form.agee, form.zzz
    assert codes.count("arity") == 1
    assert codes.count("not_an_operation") == 1
    assert codes.count("type_mismatch") == 1
    assert codes.count("dynamic_variable") == 1
    unknown = next(p for p in problems if p["code"] == "unknown_variable")
    assert unknown["variable"] == "form.agee" and "form.age" in unknown["known"]
    assert unknown["path"].startswith("$.and[1]")
    assert all(p["message_zh"] and p["message_en"] for p in problems)


def test_validate_without_variables_checks_structure_only():
    assert validate({"==": [var("anything.at.all"), 1]}) == []
    assert [p["code"] for p in validate({"==": [1]})] == ["arity"]
    assert validate({"var": "form"}, {"form.age": "number"}) == []  # a prefix of known names
    assert [p["code"] for p in validate({"in": [var("form.age"), ["1", 2]]}, {"form.age": "number"})] \
        == ["type_mismatch"]


def test_variables_of_and_render():
    rule = {"and": [{"==": [var("a"), 1]}, {"missing_some": [1, ["b", "c"]]}, {"var": ["a", 0]}]}
    assert jl.variables_of(rule) == ["a", "b", "c"]
    assert jl.render({"<": [0, var("x"), 10]}) == "0 < x < 10"
    assert jl.render({"!": {"==": [var("x"), "y"]}}) == 'not (x = "y")'

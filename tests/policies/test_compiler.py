"""The rule compiler: compiled DuckDB SQL is TRUE on exactly the rows where the row-by-row
evaluator (``core.jsonlogic``) is truthy, for every rule it accepts; the rest is refused."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from tongban.core.jsonlogic import evaluate, truthy
from tongban.policies.compiler import CompileError, compile_rule, problems

TYPES = {"n": "number", "m": "number", "t": "text", "u": "text", "b": "boolean", "l": "list"}
BIG = Decimal("9999999999999999.99")  # the largest DECIMAL(18,2)

PROFILES = [
    {"n": Decimal("1.50"), "m": 0, "t": "ab", "u": "", "b": True, "l": ["x", ""]},
    {},
    {"n": 0, "m": Decimal("-2.25"), "t": "", "u": "ab", "b": False, "l": []},
    {"n": -3, "m": 5, "t": "b", "u": "中文", "b": None, "l": ["ab", "b"]},
    {"n": BIG, "m": -BIG, "t": "é", "u": "a'b", "l": None},
]


def var(name, *default):
    return {"var": [name, *default]} if default else {"var": name}


n, m, t, u, b, lst = (var(x) for x in ("n", "m", "t", "u", "b", "l"))


def table(profiles):
    con = duckdb.connect()
    con.execute("CREATE TABLE p (i INTEGER, n DECIMAL(18,2), m DECIMAL(18,2), t VARCHAR, u VARCHAR, b BOOLEAN, "
                "l VARCHAR[])")
    con.executemany("INSERT INTO p VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [[i, *(p.get(name) for name in TYPES)] for i, p in enumerate(profiles)])
    return con


def compiled(con, rule):
    sql, params = compile_rule(rule, TYPES)
    rows = con.execute(f"SELECT i, {sql} FROM p ORDER BY i", params).fetchall()
    assert all(isinstance(value, bool) for _, value in rows), f"NULL from {sql}"
    return {i for i, value in rows if value}


def row_by_row(profiles, rule):
    return {i for i, p in enumerate(profiles) if truthy(evaluate(rule, p))}


@pytest.fixture(scope="module")
def con():
    connection = table(PROFILES)
    yield connection
    connection.close()


def check(con, rule, expected=None):
    found = compiled(con, rule)
    assert found == row_by_row(PROFILES, rule), rule
    if expected is not None:
        assert found == set(expected), rule
    return found


def codes(rule):
    return [p["code"] for p in problems(rule, TYPES)]


# --- comparisons and null ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["==", "!=", "<", "<=", ">", ">="])
def test_every_comparison_with_null_is_false_and_its_negation_true(con, op):
    check(con, {op: [n, 0]})
    check(con, {op: [None, n]}, [])
    check(con, {op: [None, None]}, [])
    assert 1 in check(con, {"!": {op: [n, 0]}})  # row 1 has no n: the comparison is false, ! of it true


def test_equality_is_strict_and_numbers_compare_by_value(con):
    check(con, {"==": [n, 1.5]}, [0])
    check(con, {"==": [n, Decimal("1.5000")]}, [0])
    check(con, {"==": [n, "1.5"]}, [])  # text never equals a number
    check(con, {"==": [b, True]}, [0])
    check(con, {"==": [b, 1]}, [])  # booleans are not numbers
    check(con, {"==": [t, u]}, [])
    check(con, {"==": [n, BIG]}, [4])


def test_not_equal_across_kinds_is_true_when_both_sides_are_present(con):
    check(con, {"!=": [n, "a"]}, [0, 2, 3, 4])
    check(con, {"!=": [t, n]}, [0, 2, 3, 4])
    check(con, {"!=": [b, 0]}, [0, 2])
    check(con, {"!=": [n, None]}, [])
    check(con, {"!=": [t, "ab"]}, [2, 3, 4])


def test_orderings_numbers_and_texts_by_code_point_only(con):
    check(con, {"<": [n, 0]}, [3])
    check(con, {">=": [n, 0]}, [0, 2, 4])
    check(con, {">": [t, "b"]}, [4])  # é (U+00E9) after b
    check(con, {">": [u, "z"]}, [3])  # 中 after z
    check(con, {"<": [n, "5"]}, [])  # number against text: false
    check(con, {"<": [False, b]}, [])  # booleans are not ordered
    check(con, {"<=": [-3, n, 0]}, [2, 3])  # the between form
    check(con, {"<": [-3, n, 1.5]}, [2])


# --- truthiness, and, or, ! ------------------------------------------------------------------------------------------


def test_truthiness_of_each_kind(con):
    check(con, n, [0, 3, 4])
    check(con, t, [0, 3, 4])
    check(con, b, [0])
    check(con, lst, [0, 3])
    check(con, {"!!": [u]}, [2, 3, 4])
    check(con, {"!": [lst]}, [1, 2, 4])
    check(con, None, [])
    check(con, "0", [0, 1, 2, 3, 4])  # "0" is truthy
    check(con, 0, [])


def test_and_or_answer_booleans_through_truthiness(con):
    check(con, {"and": [n, t]}, [0, 3, 4])
    check(con, {"or": [b, lst, {"==": [m, 5]}]}, [0, 3])
    check(con, {"and": [{"!": [b]}, {"!": {"==": [n, 0]}}]}, [1, 3, 4])
    check(con, {"or": [u]}, [2, 3, 4])


# --- in --------------------------------------------------------------------------------------------------------------


def test_in_a_literal_list_is_strict(con):
    check(con, {"in": [n, [1.5, "0", True, None]]}, [0])
    check(con, {"in": [t, ["ab", 1, "", None]]}, [0, 2])
    check(con, {"in": [b, [False, 0]]}, [2])
    check(con, {"in": [n, []]}, [])
    check(con, {"in": [None, [None]]}, [])
    check(con, {"in": [m, [0, -2.25, BIG]]}, [0, 2])


def test_in_a_list_variable_and_in_a_text(con):
    check(con, {"in": ["", lst]}, [0])
    check(con, {"in": [t, lst]}, [3])
    check(con, {"in": [5, lst]}, [])  # list elements are texts
    check(con, {"in": ["a", t]}, [0])
    check(con, {"in": ["", u]}, [0, 2, 3, 4])  # the empty text is in every text
    check(con, {"in": [t, "abc"]}, [0, 2, 3])
    check(con, {"in": [n, "1.50"]}, [])


# --- var defaults, arithmetic, missing ------------------------------------------------------------------------------


def test_var_default_replaces_null(con):
    check(con, {"==": [var("n", 7), 7]}, [1])
    check(con, var("t", "x"), [0, 1, 3, 4])
    check(con, {"==": [var("b", False), False]}, [1, 2, 3, 4])


def test_arithmetic_is_exact_and_null_propagates(con):
    check(con, {"==": [{"+": [0.1, 0.2]}, 0.3]}, [0, 1, 2, 3, 4])
    check(con, {"==": [{"+": [n, m]}, 1.5]}, [0])
    check(con, {"==": [{"-": [n, m]}, 0]}, [])
    check(con, {"<": [{"-": [n]}, 0]}, [0, 4])
    check(con, {">": [{"*": [n, 100]}, 1e17]}, [4])  # past DECIMAL(18,2): no overflow
    check(con, {"==": [{"*": [m, 2, 0.5]}, m]}, [0, 2, 3, 4])
    check(con, {"==": [{"+": [n, None]}, None]}, [])
    check(con, {"+": [n, 1]}, [0, 2, 3, 4])


def test_missing_and_missing_some(con):
    check(con, {"missing": ["t", "n"]}, [1, 2])
    check(con, {"!": {"missing": [["t", "u"]]}}, [3, 4])
    check(con, {"missing": []}, [])
    check(con, {"missing_some": [2, ["t", "u", "b"]]}, [1])
    check(con, {"missing_some": [3, ["t", "u", "b"]]}, [0, 1, 2, 3, 4])
    check(con, {"missing_some": [1.5, ["t", "t"]]}, [1, 2])
    check(con, {"missing_some": [0, ["t"]]}, [])


# --- refusals --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("rule", "code"), [
    ({"if": [b, 1, 2]}, "unsupported_operator"),
    ({"/": [n, 2]}, "unsupported_operator"),
    ({"+": [t, 1]}, "unsupported_arithmetic"),
    ({"*": [b, 1]}, "unsupported_arithmetic"),
    ({"*": [n, m]}, "unsupported_arithmetic"),  # 36 digits: more than Python's exact 28
    ({"==": [lst, ["x"]]}, "unsupported_list"),
    ({"==": [lst, lst]}, "unsupported_comparison"),
    ({"<": [{"missing": ["t"]}, 1]}, "unsupported_comparison"),
    ({"==": [var("nope"), 1]}, "unknown_variable"),
    ({"==": [var("n.x"), 1]}, "unknown_variable"),
    ({"==": [{"var": {"var": "t"}}, 1]}, "dynamic_variable"),
    ({"missing": [{"var": "t"}]}, "dynamic_variable"),
    ({"missing_some": ["2", ["t"]]}, "unsupported_missing"),
    ({"==": [n, 0.001]}, "unsupported_number"),
    ({"==": [n, 10 ** 30]}, "unsupported_number"),
    ({"==": [n, float("nan")]}, "unsupported_number"),
    ({"==": [var("n", "x"), 1]}, "unsupported_default"),
    ({"==": [var("n", m), 1]}, "unsupported_default"),
    ({"in": [t, n]}, "unsupported_in"),
    ({"in": [lst, lst]}, "unsupported_in"),
    ({"in": [t, [u]]}, "unsupported_in"),
    ({"and": [[1, 2]]}, "unsupported_list"),
    ({"a": 1, "b": 2}, "not_an_operation"),
    ({"nope": [1]}, "unknown_operator"),
    ({"==": [1]}, "arity"),
])
def test_refused_with_a_problem(rule, code):
    assert code in codes(rule)
    with pytest.raises(CompileError) as error:
        compile_rule(rule, TYPES)
    assert isinstance(error.value, ValueError)
    assert error.value.problems == problems(rule, TYPES)
    for problem in error.value.problems:
        assert {"path", "code", "message_zh", "message_en"} <= problem.keys()


def test_problems_point_at_the_offending_part():
    found = problems({"and": [{"==": [n, 1]}, {"if": [b, 1, 2]}, {"==": [var("zz"), 1]}]}, TYPES)
    assert [(p["path"], p["code"]) for p in found] == [("$.and[1].if", "unsupported_operator"),
                                                      ("$.and[2].==[0].var", "unknown_variable")]
    assert problems({"and": [{"==": [n, 1]}, {"in": ["high", lst]}]}, TYPES) == []


def test_values_are_parameters_and_names_come_from_the_whitelist(con):
    rule = {"or": [{"==": [t, "x'); DROP TABLE p; --"]}, {"in": [u, ["a'b"]]}]}
    sql, params = compile_rule(rule, TYPES)
    assert "DROP" not in sql and "a'b" not in sql
    assert params == ["x'); DROP TABLE p; --", "a'b"]
    assert '"t"' in sql and '"u"' in sql
    check(con, rule, [4])
    with pytest.raises(ValueError, match="unknown type"):
        compile_rule(t, {"t": "date"})


# --- property: compiled == row by row ---------------------------------------------------------------------------------

names = st.sampled_from(sorted(TYPES))
numbers = st.one_of(st.integers(-300, 300), st.sampled_from(
    [0, 1, -1, 0.5, 1.25, -2.75, 100.01, Decimal("3.50"), 0.1, 10 ** 20, 0.001, 10 ** 30]))
texts = st.sampled_from(["", "a", "ab", "b", "é", "0", "中文", "A", "a b"])
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
leaves = st.one_of(names.map(var), names.map(var), st.tuples(names, scalars).map(lambda p: var(*p)), scalars)


def _extend(children):
    return st.one_of(
        st.tuples(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), children, children).map(
            lambda c: {c[0]: [c[1], c[2]]}),
        st.tuples(st.sampled_from(["<", "<="]), children, children, children).map(lambda c: {c[0]: list(c[1:])}),
        st.tuples(st.sampled_from(["and", "or"]), st.lists(children, min_size=1, max_size=3)).map(
            lambda c: {c[0]: c[1]}),
        st.tuples(st.sampled_from(["!", "!!"]), children).map(lambda c: {c[0]: [c[1]]}),
        st.tuples(children, st.lists(scalars, max_size=4)).map(lambda c: {"in": [c[0], c[1]]}),
        st.tuples(children, children).map(lambda c: {"in": list(c)}),
        st.tuples(st.sampled_from(["+", "*", "-"]), st.lists(children, min_size=1, max_size=3)).map(
            lambda c: {c[0]: c[1][:2] if c[0] == "-" else c[1]}),
        st.lists(names, max_size=3).map(lambda c: {"missing": c}),
        st.tuples(st.integers(-1, 3), st.lists(names, max_size=3)).map(lambda c: {"missing_some": list(c)}),
        st.tuples(st.sampled_from(["if", "/"]), children, children).map(lambda c: {c[0]: [c[1], c[2]]}),
    )


rules = st.recursive(leaves, _extend, max_leaves=8)
profile_numbers = st.one_of(st.none(), st.integers(-5, 5), st.sampled_from([BIG, -BIG, Decimal("0.01")]),
                            st.integers(-30000, 30000).map(lambda i: Decimal(i) / 100))
profiles = st.fixed_dictionaries({
    "n": profile_numbers, "m": profile_numbers,
    "t": st.one_of(st.none(), texts), "u": st.one_of(st.none(), texts, st.text(max_size=3)),
    "b": st.one_of(st.none(), st.booleans()),
    "l": st.one_of(st.none(), st.lists(texts, max_size=3)),
})


@settings(max_examples=150, deadline=None)
@given(st.lists(profiles, min_size=1, max_size=8), st.lists(rules, min_size=1, max_size=6))
def test_compiled_rules_match_exactly_the_rows_the_evaluator_accepts(sample, generated):
    con = table(sample)
    try:
        for rule in generated:
            if problems(rule, TYPES):
                event("refused")
                continue
            event("compiled")
            assert compiled(con, rule) == row_by_row(sample, rule), rule
    finally:
        con.close()


@pytest.mark.parametrize("rule", [
    {">": [{"var": "n"}, {"*": [0.01] * 14}]},  # the combined decimals need more than 28 digits
    {">": [{"var": "n"}, 9007199254740993]},  # beyond the ledger's canonical JSON integers
    {"==": [{"var": "t"}, "\ud800"]},  # a lone surrogate
    {"==": [{"var": "t"}, "a\x00b"]},  # NUL
])
def test_literals_that_cannot_run_or_be_recorded_are_refused(rule):
    assert problems(rule, {"n": "number", "t": "text"})

"""The set-wise engine: Parquet snapshots, bulk matching into bitmaps, reading matches back."""

from __future__ import annotations

import zlib
from array import array
from decimal import Decimal

import duckdb
import pytest

from tongban.core.jsonlogic import evaluate, truthy
from tongban.policies import engine
from tongban.policies.compiler import CompileError
from tongban.policies.engine import MatchSet, SnapshotError
from tongban.policies.variables import ENTERPRISE, types_for

TYPES = {"n": "number", "t": "text", "b": "boolean", "l": "list"}
ROWS = [
    ("S0", {"n": 1, "t": "ab", "b": True, "l": ["x"]}),
    ("S1", {}),
    ("S2", {"n": Decimal("-2.25"), "t": "", "b": False, "l": []}),
    ("S3", {"n": Decimal("9999999999999999.99"), "t": "中文", "b": None, "l": ["x", "y"]}),
    ("S4", {"n": 2.5, "t": "x\x00y", "l": ["é"]}),
]


def bitmap_of(ordinals, n_bits):
    words = array("Q", [0] * ((n_bits + 63) // 64))
    for o in ordinals:
        words[o // 64] |= 1 << (o % 64)
    return zlib.compress(words.tobytes())


def read(path):
    with duckdb.connect() as con:
        return con.execute(f"SELECT * FROM read_parquet('{path}')").fetchall()


# --- snapshots -------------------------------------------------------------------------------------------------


def test_snapshot_round_trip(tmp_path):
    path = tmp_path / "snap.parquet"
    assert engine.write_snapshot(path, TYPES, iter(ROWS)) == 5
    rows = read(path)
    assert [(r[0], r[1]) for r in rows] == [(i, s) for i, (s, _) in enumerate(ROWS)]  # ordinals in file order
    back = engine.profile_rows(path, ["S4", "S0", "S1", "S3", "nobody"])
    assert back == {
        "S0": {"n": Decimal("1.00"), "t": "ab", "b": True, "l": ["x"]},
        "S1": {"n": None, "t": None, "b": None, "l": None},
        "S3": {"n": Decimal("9999999999999999.99"), "t": "中文", "b": None, "l": ["x", "y"]},
        "S4": {"n": Decimal("2.5"), "t": "x\x00y", "b": None, "l": ["é"]},
    }
    with duckdb.connect() as con:
        described = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()
    assert [(c[0], c[1]) for c in described] == [
        ("ordinal", "BIGINT"), ("subject", "VARCHAR"), ("n", "DECIMAL(18,2)"), ("t", "VARCHAR"), ("b", "BOOLEAN"),
        ("l", "VARCHAR[]")]


@pytest.mark.parametrize(("profile", "message"), [
    ({"n": Decimal("1.005")}, "2 decimal places"),
    ({"n": 0.001}, "2 decimal places"),
    ({"n": 10 ** 16}, "below 10"),
    ({"n": "5"}, "not a number"),
    ({"n": True}, "not a number"),
    ({"t": 5}, "not a text"),
    ({"b": 1}, "not a boolean"),
    ({"l": "x"}, "not a list"),
    ({"l": ["x", None]}, "not a list"),
])
def test_bad_values_are_refused_and_the_old_snapshot_stays(tmp_path, profile, message):
    path = tmp_path / "snap.parquet"
    engine.write_snapshot(path, TYPES, ROWS)
    before = path.read_bytes()
    with pytest.raises(SnapshotError, match=message):
        engine.write_snapshot(path, TYPES, [*ROWS, ("S9", profile)])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap.parquet"]  # no temporary file left


def test_write_is_atomic_when_the_rows_fail_midway(tmp_path):
    path = tmp_path / "snap.parquet"
    engine.write_snapshot(path, TYPES, ROWS)
    before = path.read_bytes()

    def rows():
        yield from ROWS
        raise RuntimeError("the profile source broke")

    with pytest.raises(RuntimeError):
        engine.write_snapshot(path, TYPES, rows())
    assert path.read_bytes() == before
    with pytest.raises(SnapshotError, match="more than once"):
        engine.write_snapshot(path, TYPES, [*ROWS, ("S1", {})])
    with pytest.raises(SnapshotError, match="subject"):
        engine.write_snapshot(path, TYPES, [("", {})])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap.parquet"]


def test_bad_types_are_refused(tmp_path):
    with pytest.raises(SnapshotError):
        engine.write_snapshot(tmp_path / "x.parquet", {"n": "date"}, [])
    with pytest.raises(SnapshotError):
        engine.write_snapshot(tmp_path / "x.parquet", {'n"; DROP': "text"}, [])
    with pytest.raises(SnapshotError):
        engine.write_snapshot(tmp_path / "x.parquet", {"subject": "text"}, [])


# --- bitmaps --------------------------------------------------------------------------------------------------


def test_bitmap_helpers():
    chosen = [0, 1, 63, 64, 65, 127, 128, 999]
    bitmap = bitmap_of(chosen, 1000)
    assert list(engine.ordinals(bitmap)) == chosen
    assert engine.count(bitmap) == len(chosen)
    assert [o for o in range(1100) if engine.contains(bitmap, o)] == chosen
    assert not engine.contains(bitmap, -1)
    empty = zlib.compress(b"")
    assert list(engine.ordinals(empty)) == [] and engine.count(empty) == 0 and not engine.contains(empty, 0)


# --- matching -------------------------------------------------------------------------------------------------


def test_match_small_snapshot_and_read_back(tmp_path):
    path = tmp_path / "snap.parquet"
    engine.write_snapshot(path, TYPES, ROWS)
    rules = {"big": {">": [{"var": "n"}, 1]}, "x": {"in": ["x", {"var": "l"}]}, "none": {"==": [{"var": "n"}, None]},
             "not-b": {"!": {"var": "b"}}}
    found = engine.match(path, rules, TYPES)
    assert {key: list(engine.ordinals(m.bitmap)) for key, m in found.items()} == {
        "big": [3, 4], "x": [0, 3], "none": [], "not-b": [1, 2, 3, 4]}
    assert {key: m.count for key, m in found.items()} == {"big": 2, "x": 2, "none": 0, "not-b": 4}
    assert isinstance(found["big"], MatchSet)
    assert engine.subjects(path, found["not-b"].bitmap) == ["S1", "S2", "S3", "S4"]
    assert engine.subjects(path, found["not-b"].bitmap, among=["S4", "S0", "S2", "nobody"]) == ["S2", "S4"]
    assert engine.subjects(path, found["none"].bitmap) == []


def test_match_equals_row_by_row_on_a_generated_snapshot(tmp_path):
    path = tmp_path / "enterprises.parquet"
    assert engine.generate_enterprise_snapshot(path, 3000, seed=5) == 3000
    types = types_for(ENTERPRISE)
    v = {name: {"var": name} for name in types}
    rules = {
        "high-tech": {"and": [{"in": ["high_tech_enterprise", v["certificates"]]}, {"!": v["in_arrears"]}]},
        "small": {"in": [v["size_class"], ["micro", "small"]]},
        "manufacturing": {"and": [{"==": [v["industry_section"], "C"]}, {">=": [v["revenue"], 500]}]},
        "hangzhou": {"and": [{"==": [v["city"], "330100"]}, {"<=": [1, v["years_registered"], 5]}]},
        "insured": {">=": [{"*": [v["insured_count"], 10]}, {"*": [v["employees"], 8]}]},
        "grade": {"or": [{"==": [v["tax_credit_grade"], "A"]}, {"missing": ["tax_credit_grade"]}]},
        "capital": {">": [v["registered_capital"], 100.5]},
        "software": {"and": [{"in": ["I6", v["industry"]]}, v["active"], {"!": v["penalized_recently"]}]},
    }
    calls = []
    found = engine.match(path, rules, types, group=3, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(3, 8), (6, 8), (8, 8)]
    assert engine.profile_rows(path, []) == {}
    with duckdb.connect() as con:
        cursor = con.execute(f"SELECT * EXCLUDE (ordinal, subject) FROM read_parquet('{path}') ORDER BY ordinal")
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    assert set(names) == set(types)
    for key, rule in rules.items():
        expected = [i for i, p in enumerate(rows) if truthy(evaluate(rule, p))]
        assert list(engine.ordinals(found[key].bitmap)) == expected, key
        assert found[key].count == len(expected)
        assert 0 < len(expected) < len(rows), key  # the generated data exercises every rule
    some = engine.subjects(path, found["high-tech"].bitmap)
    back = engine.profile_rows(path, some[:5])
    assert all("high_tech_enterprise" in p["certificates"] for p in back.values()) and len(back) == 5


def test_match_refuses_wrong_columns_missing_snapshots_and_bad_rules(tmp_path):
    path = tmp_path / "snap.parquet"
    engine.write_snapshot(path, TYPES, ROWS)
    with pytest.raises(SnapshotError, match="n is DECIMAL"):
        engine.match(path, {"a": {"var": "n"}}, {**TYPES, "n": "text"})
    with pytest.raises(SnapshotError, match="absent"):
        engine.match(path, {"a": {"var": "n"}}, {**TYPES, "z": "number"})
    with pytest.raises(SnapshotError, match="no snapshot"):
        engine.match(tmp_path / "nope.parquet", {}, TYPES)
    with pytest.raises(CompileError):
        engine.match(path, {"a": {"if": [1, 2, 3]}}, TYPES)


def test_empty_snapshot_and_no_rules(tmp_path):
    path = tmp_path / "snap.parquet"
    assert engine.write_snapshot(path, TYPES, []) == 0
    found = engine.match(path, {"a": {"var": "b"}}, TYPES)
    assert found["a"].count == 0 and zlib.decompress(found["a"].bitmap) == b""
    assert engine.match(path, {}, TYPES) == {}
    assert engine.subjects(path, found["a"].bitmap) == []

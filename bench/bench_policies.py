"""Bulk policy matching: 100 eligibility rules × 1,000,000 enterprise profiles (issue 9).

Ours: ``engine.match`` — each rule compiled to DuckDB SQL, one scan of the Parquet snapshot per
group of 25 rules, results as compressed bitmaps ready to store; storing them (one row per rule,
the bitmap as a blob, into SQLite) is timed separately. Baseline, in the same run: the same rules
evaluated one profile at a time with a JSON-Logic library (``json_logic.jsonLogic``, panzi-json-logic)
on a 10,000-profile sample read back from the snapshot, extrapolated to 1M; our own row-by-row
evaluator (``core.jsonlogic``) runs on the same sample for comparison. Ratio = baseline / ours.

Goal: under 10 s for 100 × 1M, and at least 100× faster than the baseline.
"""

from __future__ import annotations

import itertools
import random
import sqlite3
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from tongban.core import jsonlogic
from tongban.policies import engine
from tongban.policies.variables import ENTERPRISE, types_for

PROFILES = 1_000_000
SAMPLE = 10_000
RULES = 100
SEED = 9

CITIES = [f"33{c:02d}00" for c in range(1, 12)]
SECTIONS = ["C", "F", "I", "M", "L", "E", "G", "H", "K", "A", "N", "R"]
CERTIFICATES = ["high_tech_enterprise", "tech_sme", "specialized_new", "food_business_licence", "export_licence"]


def var(name: str) -> dict:
    return {"var": name}


def _clean(r: random.Random) -> list:
    """The conditions most subsidies share: in business, no arrears, no recent penalty."""
    conditions = [{"==": [var("active"), True]}, {"!": var("in_arrears")}]
    if r.random() < 0.5:
        conditions.append({"!": var("penalized_recently")})
    return conditions


def _rule(r: random.Random, n: int) -> dict:
    """One rule modelled on a real subsidy (template ``n`` mod 10, parameters drawn from ``r``)."""
    city = r.choice(CITIES)
    kind = n % 10
    if kind == 0:  # 高新技术企业认定奖励
        specific = [{"in": ["high_tech_enterprise", var("certificates")]}, {"==": [var("city"), city]}]
    elif kind == 1:  # 小微企业稳岗返还
        specific = [{"in": [var("size_class"), ["micro", "small"]]}, {">=": [var("insured_count"), r.choice([1, 3, 5])]}]
    elif kind == 2:  # 制造业技术改造
        specific = [{"==": [var("industry_section"), "C"]}, {">=": [var("years_registered"), r.choice([1, 2, 3])]},
                    {">=": [var("revenue"), r.choice([500, 2000, 5000])]}]
    elif kind == 3:  # 专精特新
        specific = [{"or": [{"in": ["specialized_new", var("certificates")]}, {"in": ["tech_sme", var("certificates")]}]},
                    {"in": [var("tax_credit_grade"), ["A", "B"]]}]
    elif kind == 4:  # 新设企业开办补贴
        specific = [{"<": [var("years_registered"), r.choice([1, 2, 3])]},
                    {"in": [var("region"), [f"{city[:4]}{d:02d}" for d in r.sample(range(2, 12), 4)]]}]
    elif kind == 5:  # 吸纳就业补贴
        low = r.choice([5, 10, 20])
        specific = [{"<=": [low, var("employees"), low * r.choice([10, 30])]},
                    {">=": [{"*": [var("insured_count"), 10]}, {"*": [var("employees"), 8]}]}]
    elif kind == 6:  # 纳税信用 A 级奖励
        specific = [{"==": [var("tax_credit_grade"), "A"]}, {"in": [var("revenue_band"), ["R3", "R4"]]}]
    elif kind == 7:  # 行业扶持（门类）
        specific = [{"in": [var("industry_section"), r.sample(SECTIONS, 3)]},
                    {"!=": [var("size_class"), "large"]}, {">": [var("registered_capital"), r.choice([10, 50, 100.5])]}]
    elif kind == 8:  # 软件和信息技术服务（行业代码）
        specific = [{"in": [f"I{r.choice([63, 64, 65])}", var("industry")]},
                    {"or": [{"==": [var("city"), city]}, {"in": [r.choice(CERTIFICATES), var("certificates")]}]}]
    else:  # 规上企业
        specific = [{">=": [var("revenue"), 2000]}, {"!": {"in": [var("size_class"), ["micro"]]}},
                    {">": [var("employees"), r.choice([20, 50])]}]
    return {"and": specific + _clean(r)}


def rules() -> dict[str, dict]:
    r = random.Random(SEED)
    return {f"policy-{n:03d}": _rule(r, n) for n in range(RULES)}


def _sample(path: Path, types: dict[str, str]) -> list[dict]:
    """The first ``SAMPLE`` profiles, as a profile builder would hand them to the row-by-row path."""
    import duckdb

    with duckdb.connect() as con:
        cursor = con.execute(f"SELECT * EXCLUDE (ordinal, subject) FROM read_parquet('{path}') "
                             f"WHERE ordinal < {SAMPLE} ORDER BY ordinal")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _as_json(profile: dict) -> dict:
    """What a JavaScript-semantics library is given: numbers as floats (it cannot take Decimal)."""
    return {k: float(v) if isinstance(v, Decimal) else v for k, v in profile.items()}


def run() -> list[dict]:
    from json_logic import jsonLogic

    types = types_for(ENTERPRISE)
    policy_rules = rules()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "enterprise.parquet"
        start = time.perf_counter()
        engine.generate_enterprise_snapshot(path, PROFILES, SEED)
        generate_s = time.perf_counter() - start

        start = time.perf_counter()
        matched = engine.match(path, policy_rules, types)
        match_s = time.perf_counter() - start

        db = sqlite3.connect(Path(tmp) / "runs.sqlite3")
        db.execute("CREATE TABLE match_result (policy TEXT PRIMARY KEY, matched INTEGER, bitmap BLOB)")
        start = time.perf_counter()
        with db:
            db.executemany("INSERT INTO match_result VALUES (?, ?, ?)",
                           [(key, m.count, m.bitmap) for key, m in matched.items()])
        store_s = time.perf_counter() - start
        db.close()

        sample = _sample(path, types)
    total_matches = sum(m.count for m in matched.values())
    stored_bytes = sum(len(m.bitmap) for m in matched.values())

    # The same sample through both row-by-row evaluators; ours must agree with the bitmaps.
    start = time.perf_counter()
    ours_rows = {key: [jsonlogic.truthy(jsonlogic.evaluate(rule, p)) for p in sample]
                 for key, rule in policy_rules.items()}
    ours_row_s = time.perf_counter() - start
    floats = [_as_json(p) for p in sample]
    start = time.perf_counter()
    for rule in policy_rules.values():
        for p in floats:
            jsonLogic(rule, p)
    library_s = time.perf_counter() - start
    disagreements = 0
    for key, row in ours_rows.items():
        hits = set(itertools.takewhile(lambda o: o < SAMPLE, engine.ordinals(matched[key].bitmap)))
        disagreements += sum(1 for ordinal, passed in enumerate(row) if passed != (ordinal in hits))

    scale = PROFILES / SAMPLE
    baseline_s = library_s * scale
    ours_row_full_s = ours_row_s * scale
    per_rule_row_us = library_s / (RULES * SAMPLE) * 1e6
    print(f"  generate {PROFILES:,} profiles: {generate_s:.2f} s; match {RULES} rules: {match_s:.2f} s "
          f"({total_matches:,} matches, {stored_bytes / 1e6:.2f} MB of bitmaps); store: {store_s * 1e3:.1f} ms")
    print(f"  row by row on {SAMPLE:,}: json_logic {library_s:.2f} s ({per_rule_row_us:.1f} µs per rule per row) "
          f"→ {baseline_s:,.0f} s for 1M; core.jsonlogic {ours_row_s:.2f} s → {ours_row_full_s:,.0f} s; "
          f"ratio {baseline_s / match_s:,.0f}×; disagreements with the bitmaps: {disagreements}")
    print(f"  goal < 10 s: {'met' if match_s < 10 else 'NOT met'}; "
          f"goal ≥ 100× baseline: {'met' if baseline_s / match_s >= 100 else 'NOT met'}")
    return [
        {"name": f"match {RULES} rules × {PROFILES:,} profiles (goal < 10)", "value": match_s, "unit": "s",
         "baseline": baseline_s, "ratio": baseline_s / match_s},
        {"name": f"store {RULES} bitmap rows in SQLite", "value": store_s * 1e3, "unit": "ms"},
        {"name": f"matches found ({stored_bytes / 1e6:.2f} MB of bitmaps)", "value": total_matches, "unit": "matches"},
        {"name": f"row by row, core.jsonlogic, extrapolated from {SAMPLE:,}", "value": ours_row_full_s, "unit": "s",
         "baseline": baseline_s, "ratio": baseline_s / ours_row_full_s},
        {"name": "row by row, json_logic library, per rule per row", "value": per_rule_row_us, "unit": "µs"},
        {"name": f"row-by-row vs bitmap disagreements on {SAMPLE:,}", "value": disagreements, "unit": "rows"},
        {"name": f"generate {PROFILES:,} enterprise profiles", "value": generate_s, "unit": "s"},
    ]


if __name__ == "__main__":
    for row in run():
        print(row)

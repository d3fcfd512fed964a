"""Run every benchmark in bench/ (modules named bench_*.py), print a table, write JSON.

A benchmark module exposes ``run() -> list[dict]``; each dict is one row with at least
``name``, ``value`` and ``unit`` (and optionally ``baseline`` and ``ratio``). Benchmarks are
never part of the test run: speed is reported here, not asserted in tests.
"""

from __future__ import annotations

import datetime
import importlib
import json
import os
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    sys.path.insert(0, str(HERE))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tongban.site.settings")
    modules = sorted(p.stem for p in HERE.glob("bench_*.py"))
    selected = sys.argv[1:] or modules
    rows: list[dict] = []
    for name in selected:
        module = importlib.import_module(name)
        print(f"running {name} …", flush=True)
        for row in module.run():
            rows.append({"benchmark": name, **row})
    if not rows:
        print("no benchmarks yet")
    else:
        print()
        print(f"{'benchmark':<22} {'measure':<48} {'value':>14} {'unit':<10} {'baseline':>12} {'ratio':>7}")
        for row in rows:
            baseline = f"{row['baseline']:,.0f}" if row.get("baseline") is not None else ""
            ratio = f"{row['ratio']:.1f}x" if row.get("ratio") is not None else ""
            print(f"{row['benchmark']:<22} {row['name']:<48} {row['value']:>14,.1f} {row['unit']:<10} "
                  f"{baseline:>12} {ratio:>7}")
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = results / f"bench-{stamp}.json"
    out.write_text(json.dumps({"machine": platform.uname()._asdict(), "cpus": os.cpu_count(), "rows": rows},
                              indent=2, ensure_ascii=False))
    print(f"\nwritten {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

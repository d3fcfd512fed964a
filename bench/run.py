"""Run the benchmarks in bench/ (modules named bench_*.py), print one table, write JSON.

    .venv/bin/python bench/run.py                    # every benchmark (what ``make bench`` runs)
    .venv/bin/python bench/run.py bench_policies     # only the ones named (``bench/bench_x.py`` also works)

A benchmark module exposes ``run() -> list[dict]``; each dict is one row with at least
``name``, ``value`` and ``unit``, and optionally ``baseline`` (measured in the same run) and
``ratio``. The table shows every row of every module as the module gives it, with each module's
wall time; a module that raises (or reports a row named "… failed …") is shown as an error in
the table, the others still run, and the exit status is 1 at the end. The run is written to
``bench/results/latest.json`` and ``bench/results/bench-<UTC timestamp>.json`` with the machine
(CPU count, load average at start and end, Python, platform). See bench/README.md. Benchmarks
are never part of the test run: speed is reported here, not asserted in tests.
"""

from __future__ import annotations

import datetime
import importlib
import json
import math
import os
import platform
import sys
import time
import traceback
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


# --- machine -------------------------------------------------------------------------------------------


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _machine() -> dict:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpus": os.cpu_count(),
        "cpus_usable": affinity,
        "cpu_model": _cpu_model(),
        "memory_gb": _memory_gb(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "uname": platform.uname()._asdict(),
    }


# --- running -------------------------------------------------------------------------------------------


def _module_name(arg: str) -> str:
    """``bench_policies``, ``bench_policies.py`` and ``bench/bench_policies.py`` all name one module."""
    return Path(arg).name.removesuffix(".py")


def _failed_row(row: dict) -> bool:
    """A module that measures in child processes reports a failed child as a NaN row named so."""
    value = row.get("value")
    return isinstance(value, float) and math.isnan(value) and "failed" in str(row.get("name", ""))


def _run_module(name: str) -> dict:
    print(f"running {name} …", flush=True)
    started = time.perf_counter()
    result: dict = {"module": name, "status": "ok", "rows": []}
    try:
        module = importlib.import_module(name)
        rows = module.run()
        result["rows"] = [{"benchmark": name, **row} for row in rows]
        failed = [row["name"] for row in result["rows"] if _failed_row(row)]
        if failed:
            result["status"] = "error"
            result["error"] = "; ".join(failed)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - one module's failure must not lose the others' rows
        traceback.print_exc()
        result["status"] = "error"
        result["error"] = f"{type(exc).__name__}: {exc}".strip().splitlines()[0] if str(exc) else type(exc).__name__
        result["traceback"] = traceback.format_exc()
    result["wall_seconds"] = time.perf_counter() - started
    print(f"{name}: {result['status']} in {result['wall_seconds']:.1f} s", flush=True)
    return result


# --- the table -----------------------------------------------------------------------------------------


def _number(x) -> str:
    if x is None:
        return ""
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, float) and math.isnan(x):
        return "—"
    if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) >= 1000):
        return f"{x:,.0f}"
    magnitude = abs(x)
    if magnitude >= 100:
        return f"{x:,.0f}"
    if magnitude >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def _ratio(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return f"{_number(x)}×"


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _cell(text: str, width: int, right: bool = False) -> str:
    pad = " " * max(0, width - _width(text))
    return pad + text if right else text + pad


def _table(results: list[dict]) -> list[str]:
    lines: list[list[str]] = []
    for result in results:
        for row in result["rows"]:
            lines.append([result["module"], str(row.get("name", "")), _number(row.get("value")),
                          str(row.get("unit", "")), _number(row.get("baseline")), _ratio(row.get("ratio"))])
        if result["status"] == "error" and "traceback" in result:
            lines.append([result["module"], f"ERROR {result['error']}"[:100], "", "", "", ""])
        lines.append([result["module"], f"wall time ({result['status']})", _number(result["wall_seconds"]), "s",
                      "", ""])
    header = ["benchmark", "measure", "value", "unit", "baseline", "ratio"]
    widths = [max(_width(line[i]) for line in [header, *lines]) for i in range(len(header))]
    right = [False, False, True, False, True, True]

    def render(line: list[str]) -> str:
        return "  ".join(_cell(text, widths[i], right[i]) for i, text in enumerate(line)).rstrip()

    out = [render(header), render(["-" * w for w in widths])]
    previous = None
    for line in lines:
        if previous is not None and line[0] != previous:
            out.append("")
        out.append(render(line if line[0] != previous else ["", *line[1:]]))
        previous = line[0]
    return out


# --- JSON ----------------------------------------------------------------------------------------------


def _clean(value):
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _write(report: dict, stamp: str) -> list[Path]:
    RESULTS.mkdir(exist_ok=True)
    text = json.dumps(_clean(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    paths = [RESULTS / f"bench-{stamp}.json", RESULTS / "latest.json"]
    for path in paths:
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return paths


# --- main ----------------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(HERE))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tongban.site.settings")
    modules = sorted(p.stem for p in HERE.glob("bench_*.py"))
    selected = [_module_name(arg) for arg in argv] or modules
    started_at = datetime.datetime.now(datetime.UTC)
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    machine = _machine()
    load_start = _load()
    print(f"{len(selected)} benchmark(s) on {machine['cpus']} CPUs ({machine['cpu_model']}), "
          f"load average {load_start}", flush=True)
    began = time.perf_counter()
    results = [_run_module(name) for name in selected]
    wall = time.perf_counter() - began
    load_end = _load()

    print()
    if any(result["rows"] or result["status"] == "error" for result in results):
        print("\n".join(_table(results)))
    else:
        print("no benchmarks yet")
    failed = [result for result in results if result["status"] == "error"]
    print(f"\n{len(results)} benchmark(s) in {wall:,.0f} s; load average {load_start} at start, {load_end} at end; "
          f"{machine['cpus']} CPUs, Python {machine['python']}, {machine['platform']}")

    report = {
        "started": started_at.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "complete": sorted(selected) == modules,
        "machine": {**machine, "load_average_start": load_start, "load_average_end": load_end},
        "wall_seconds": wall,
        "benchmarks": [{k: v for k, v in result.items() if k != "rows"} | {"rows": len(result["rows"])}
                       for result in results],
        "rows": [row for result in results for row in result["rows"]],
    }
    for path in _write(report, stamp):
        print(f"written {path.relative_to(HERE.parent)}")
    if failed:
        for result in failed:
            print(f"FAILED {result['module']}: {result['error']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

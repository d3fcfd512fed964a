"""Records load (归集) of 100,000 rows: throughput and peak memory, on SQLite and PostgreSQL.

Each backend runs in a fresh child process with its own Django settings: a temporary SQLite data
directory, then (when a PostgreSQL server answers: the server of ``DATABASE_URL`` if set, else
``TONGBAN_BENCH_PG``) a throwaway database ``tongban_bench_load_<pid>``, dropped afterwards. The
child migrates, publishes a citizen-keyed resource (7 items: ID number, name, code lists, phone,
address, date) and times the real service, ``records.load_records`` inside ``transaction.atomic``,
with the rows coming from a generator (never a list):

* insert: 100,000 new subjects;
* upsert: the same 100,000 again with 10 % changed (90 % compared and skipped as unchanged);
* CSV: 100,000 new subjects through ``records.load_csv`` from a GB18030 file (Chinese header);
* memory: a further 100,000 new subjects under tracemalloc — the Python heap peak of the load —
  against what holding the same rows in a list takes (the "baseline" column; ratio = list / peak),
  and the process's maximum RSS after the three untraced loads against its maximum after set-up
  (Django, migrations, the catalog's tokenizer) as the baseline.

Baseline for throughput: the same rows bulk-inserted as bare ``Record`` rows with the ORM's
``bulk_create`` (no validation, comparison, history, sequence or ledger), in the same chunk size.
The loader writes with plain ``executemany`` instead, which is why it can beat that baseline.

    .venv/bin/python bench/run.py bench_exchange_load
    .venv/bin/python bench/bench_exchange_load.py --rows 20000     # one quick run
"""

from __future__ import annotations

import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ROWS = int(os.environ.get("TONGBAN_BENCH_LOAD_ROWS", "100000"))
PG_ADMIN = os.environ.get("TONGBAN_BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres")


# --- child: one backend --------------------------------------------------------------------------------


def _setup():
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    call_command("migrate", verbosity=0)
    from tests.exchange.factories import person_resource, steward

    with transaction.atomic():
        published = person_resource("bench")
    return published.code, steward("bench")


def _rows(start: int, count: int, *, changed_every: int = 0):
    from tests.exchange.factories import person_row

    for n in range(start, start + count):
        if changed_every and n % changed_every == 0:
            yield person_row(n, marital_status="21")
        else:
            yield person_row(n)


def _timed(work) -> tuple[float, object]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def _baseline(count: int, code: str) -> float:
    """Bare bulk insert of the same rows: no validation, comparison, history or ledger."""
    from django.db import transaction
    from django.utils import timezone

    from tongban.exchange.models import Batch, Record
    from tongban.exchange.services.records import CHUNK_ROWS

    def work():
        with transaction.atomic():
            batch = Batch.objects.create(resource_code="bare", department_id=Batch.objects.first().department_id,
                                         loaded_by="bench", channel="api", sha256="")
            now, chunk = timezone.now(), []
            for seq, row in enumerate(_rows(5_000_000, count), start=1):
                chunk.append(Record(resource_code="bare", subject=row["id_number"], data=row, seq=seq, batch=batch,
                                    updated_at=now))
                if len(chunk) == CHUNK_ROWS:
                    Record.objects.bulk_create(chunk)
                    chunk = []
            Record.objects.bulk_create(chunk)

    seconds, _ = _timed(work)
    return count / seconds


def _measure(count: int, label: str) -> list[dict]:
    code, actor = _setup()
    from django.db import connection, transaction

    from tongban.exchange.services import records

    def load(rows, **kwargs):
        with transaction.atomic():
            return records.load_records(actor, code, rows, **kwargs)

    rss_setup = _max_rss_mb()
    insert_s, batch = _timed(lambda: load(_rows(0, count)))
    assert batch.inserted == count, batch.inserted
    upsert_s, batch = _timed(lambda: load(_rows(0, count, changed_every=10)))
    assert (batch.updated, batch.unchanged) == (count // 10, count - count // 10), (batch.updated, batch.unchanged)

    with tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as handle:
        path = handle.name
    try:
        from tests.exchange.factories import PERSON_ITEMS

        keys = [item["key"] for item in PERSON_ITEMS]
        with open(path, "w", encoding="gb18030", newline="") as out:
            writer = csv.writer(out)
            writer.writerow([item["name"] for item in PERSON_ITEMS])
            for row in _rows(1_000_000, count):
                writer.writerow(["" if row[k] is None else row[k] for k in keys])
        size_mb = os.path.getsize(path) / 1e6

        def load_csv():
            with open(path, "rb") as data, transaction.atomic():
                return records.load_csv(actor, code, data)

        csv_s, batch = _timed(load_csv)
        assert batch.inserted == count
    finally:
        os.unlink(path)

    rss_loads = _max_rss_mb()
    tracemalloc.start()
    held = [row for row in _rows(2_000_000, count)]
    list_mb = tracemalloc.get_traced_memory()[0] / 1e6
    del held
    tracemalloc.stop()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    batch = load(_rows(3_000_000, count))
    peak_mb = (tracemalloc.get_traced_memory()[1] - base) / 1e6
    tracemalloc.stop()
    assert batch.inserted == count

    bare = _baseline(count, code)
    insert_rate, upsert_rate, csv_rate = count / insert_s, count / upsert_s, count / csv_s
    n = f"{count // 1000}k"
    rows = [
        {"name": f"{label}: load {n} new rows (JSON rows)", "value": insert_rate, "unit": "rows/s",
         "baseline": bare, "ratio": insert_rate / bare},
        {"name": f"{label}: reload {n} rows, 10% changed", "value": upsert_rate, "unit": "rows/s",
         "baseline": bare, "ratio": upsert_rate / bare},
        {"name": f"{label}: load {n} rows from GB18030 CSV ({size_mb:.1f} MB)", "value": csv_rate, "unit": "rows/s",
         "baseline": bare, "ratio": csv_rate / bare},
        {"name": f"{label}: Python heap peak, {n}-row load", "value": peak_mb, "unit": "MB",
         "baseline": list_mb, "ratio": list_mb / peak_mb if peak_mb else None},
        {"name": f"{label}: max RSS after three {n}-row loads", "value": rss_loads, "unit": "MB",
         "baseline": rss_setup, "ratio": rss_loads / rss_setup},
    ]
    connection.close()
    return rows


def _child(count: int, label: str) -> None:
    rows = _measure(count, label)
    print("BENCH-ROWS " + json.dumps(rows, ensure_ascii=False), flush=True)


# --- parent ----------------------------------------------------------------------------------------------


def _run_child(env: dict, count: int, label: str) -> list[dict]:
    path = os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**env, "DJANGO_SETTINGS_MODULE": "tongban.site.settings", "TONGBAN_LEDGER_INTEGRATE_ON_COMMIT": "0",
           "PYTHONPATH": path}
    done = subprocess.run([sys.executable, __file__, "--child", label, "--rows", str(count)], env=env,
                          capture_output=True, text=True, timeout=3600, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH-ROWS "):
            return json.loads(line[len("BENCH-ROWS "):])
    sys.stderr.write(done.stdout[-3000:] + done.stderr[-5000:])
    return [{"name": f"{label}: failed (see stderr)", "value": float("nan"), "unit": ""}]


def _pg_admin_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        return url.rsplit("/", 1)[0] + "/postgres"
    return PG_ADMIN


def run(count: int = ROWS) -> list[dict]:
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="tongban-bench-load-") as data_dir:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        rows += _run_child({**env, "TONGBAN_DATA_DIR": str(Path(data_dir) / "sqlite")}, count, "sqlite")
        admin_url = _pg_admin_url()
        try:
            import psycopg

            admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
        except Exception as exc:  # noqa: BLE001 - no PostgreSQL here: report SQLite only
            rows.append({"name": f"postgresql: not reachable ({type(exc).__name__}), skipped", "value": float("nan"),
                         "unit": ""})
            return rows
        name = f"tongban_bench_load_{os.getpid()}"
        with admin:
            admin.execute(f"CREATE DATABASE {name}")
            try:
                url = admin_url.rsplit("/", 1)[0] + f"/{name}"
                rows += _run_child({**env, "TONGBAN_DATA_DIR": str(Path(data_dir) / "pg"), "DATABASE_URL": url},
                                   count, "postgresql")
            finally:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    return rows


if __name__ == "__main__":
    args = sys.argv[1:]
    count = int(args[args.index("--rows") + 1]) if "--rows" in args else ROWS
    if "--child" in args:
        _child(count, args[args.index("--child") + 1])
    else:
        for row in run(count):
            extra = f"  (baseline {row['baseline']:,.1f}, ratio {row['ratio']:.2f})" if row.get("baseline") else ""
            print(f"{row['name']:<60} {row['value']:>12,.1f} {row['unit']}{extra}")

"""Ledger benchmark: integration throughput, proof serving, and pymerkle as the baseline.

Each database is measured in a fresh worker process (``python bench_ledger.py --worker``) with
its own Django settings from the environment: a SQLite file (WAL) in a temporary data
directory, then a throwaway PostgreSQL database ``tongban_bench_<pid>`` that is dropped after.
The worker runs the real code paths: events are built by ``services.build_event`` (what
``record`` stores) and bulk-inserted; the timed part is ``integrator.integrate`` (numbering,
hashing, node writes, signed checkpoints) and ``services.inclusion_proof`` (one node query per
proof). pymerkle's ``SqliteTree`` gets the same entries: appended in the same batches with a
root per batch (what a log must sign), then inclusion proofs.

Goals (issue 4): integrate ≥ 50,000 entries/s on SQLite and ≥ 20,000/s on PostgreSQL;
≥ 10,000 inclusion proofs/s from stored nodes.
"""

from __future__ import annotations

import gc
import json
import os
import pickle
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENTRIES = int(os.environ.get("TONGBAN_BENCH_LEDGER_ENTRIES", "200000"))
BATCH = 10_000
PROOFS = 20_000
PYMERKLE_PROOFS = 200
PG_ADMIN = os.environ.get("TONGBAN_BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres")


def run() -> list[dict]:
    load = os.getloadavg()[0]  # other work on this 2-core machine halves these figures; say so
    with tempfile.TemporaryDirectory(prefix="tongban-bench-ledger-") as tmp:
        entries_file = Path(tmp) / "entries.pickle"
        sqlite = _worker({"TONGBAN_DATA_DIR": str(Path(tmp) / "sqlite")}, entries_file, baseline=True)
        postgres = _with_postgres(lambda url: _worker({"TONGBAN_DATA_DIR": str(Path(tmp) / "pg"),
                                                       "DATABASE_URL": url}, entries_file, baseline=False))
    n = f"{ENTRIES // 1000}k"
    rows = [
        {"name": f"integrate {n} entries, SQLite (goal 50,000)", "value": sqlite["integrate"], "unit": "entries/s",
         "baseline": sqlite["pymerkle_append"], "ratio": sqlite["integrate"] / sqlite["pymerkle_append"]},
        {"name": "inclusion proofs from stored nodes, SQLite (goal 10,000)", "value": sqlite["proofs"],
         "unit": "proofs/s", "baseline": sqlite["pymerkle_proofs"],
         "ratio": sqlite["proofs"] / sqlite["pymerkle_proofs"]},
        {"name": "inclusion() with checks and checkpoint, SQLite", "value": sqlite["inclusion_service"],
         "unit": "proofs/s"},
        {"name": "record() + integrate on commit, SQLite", "value": sqlite["record_commit"], "unit": "entries/s"},
        {"name": f"tongban ledger verify, {n} entries, SQLite", "value": sqlite["verify"], "unit": "entries/s"},
        {"name": f"commit→checkpoint lag, 2 writer processes {sqlite['lag_load']:,.0f} entries/s, SQLite p50",
         "value": sqlite["lag_p50_ms"], "unit": "ms"},
        {"name": "commit→checkpoint lag, SQLite max (goal < 1,000)", "value": sqlite["lag_max_ms"], "unit": "ms"},
        {"name": "pymerkle bulk append, no roots (reference)", "value": sqlite["pymerkle_bulk"], "unit": "entries/s"},
    ]
    if postgres is not None:
        rows[1:1] = [
            {"name": f"integrate {n} entries, PostgreSQL (goal 20,000)", "value": postgres["integrate"],
             "unit": "entries/s", "baseline": sqlite["pymerkle_append"],
             "ratio": postgres["integrate"] / sqlite["pymerkle_append"]},
        ]
        rows.insert(3, {"name": "inclusion proofs from stored nodes, PostgreSQL", "value": postgres["proofs"],
                        "unit": "proofs/s", "baseline": sqlite["pymerkle_proofs"],
                        "ratio": postgres["proofs"] / sqlite["pymerkle_proofs"]})
        rows.append({"name": "record() + integrate on commit, PostgreSQL", "value": postgres["record_commit"],
                      "unit": "entries/s"})
        rows.append({"name": f"commit→checkpoint lag, 2 writer processes {postgres['lag_load']:,.0f} entries/s, PG p50",
                     "value": postgres["lag_p50_ms"], "unit": "ms"})
        rows.append({"name": "commit→checkpoint lag, PostgreSQL max (goal < 1,000)", "value": postgres["lag_max_ms"],
                     "unit": "ms"})
    rows.append({"name": "machine load average when the run started", "value": load, "unit": "load"})
    return rows


def _worker(env: dict[str, str], entries_file: Path, *, baseline: bool) -> dict:
    full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tongban.site.settings", **env}
    if "DATABASE_URL" not in env:
        full_env.pop("DATABASE_URL", None)
    command = [sys.executable, __file__, "--worker", str(entries_file)] + (["--baseline"] if baseline else [])
    done = subprocess.run(command, env=full_env, capture_output=True, text=True, check=False, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"ledger bench worker failed:\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"  {env.get('DATABASE_URL', 'sqlite').split('@')[-1]}: "
          + ", ".join(f"{k}={v:,.0f}" for k, v in result.items()), flush=True)
    return result


def _with_postgres(measure):
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except Exception as exc:  # noqa: BLE001 - no PostgreSQL here: report SQLite only
        print(f"  PostgreSQL not reachable ({exc}); skipped", flush=True)
        return None
    name = f"tongban_bench_{os.getpid()}"
    base = PG_ADMIN.rsplit("/", 1)[0]
    with admin:
        admin.execute(f"CREATE DATABASE {name}")
        try:
            return measure(f"{base}/{name}")
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# --- worker (a fresh process per database) ------------------------------------------------------


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else float("inf")


def _events(entries_file: Path):
    """The same entries for every database: built once by build_event, then reused."""
    from tongban.ledger import services

    if entries_file.exists():
        return pickle.loads(entries_file.read_bytes())  # noqa: S301 - our own temporary file
    rng = random.Random(4)
    rows = []
    for i in range(ENTRIES):
        event, _ = services.build_event(
            actor=f"system:{rng.choice(['mkt01', 'hlth02', 'hr003'])}", action="exchange.query",
            subject=f"resource:MKT-{rng.randrange(1000):04d}", department=rng.choice(["market", "health", "hr"]),
            payload={"grant": rng.randrange(5000), "purpose": "企业资格核验", "items": ["name", "status", "capital"],
                     "rows": 1, "request": i})
        rows.append((event.recorded_at, event.action, event.actor, event.department, event.subject, event.entry))
    entries_file.write_bytes(pickle.dumps(rows))
    return rows


def worker(entries_file: Path, baseline: bool) -> dict:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction

    from tongban.ledger import integrator, services
    from tongban.ledger.models import LedgerEvent
    from tongban.ledger.verify import verify_ledger

    call_command("migrate", verbosity=0)
    rows = _events(entries_file)
    for start in range(0, len(rows), 20_000):
        with transaction.atomic():
            LedgerEvent.objects.bulk_create(
                [LedgerEvent(recorded_at=t, action=a, actor=actor, department=d, subject=s, entry=e)
                 for t, a, actor, d, s, e in rows[start:start + 20_000]], batch_size=5_000)
    entries = [bytes(e) for *_, e in rows] if baseline else []
    count = len(rows)
    del rows
    gc.collect()
    if connection.vendor == "sqlite":  # settle the populate's WAL now, so it is not charged to integration
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    result: dict[str, float] = {}

    began = time.perf_counter()
    integrated = integrator.integrate(batch_size=BATCH)
    result["integrate"] = _rate(integrated.integrated, time.perf_counter() - began)
    assert integrated.size == count

    size = integrated.size
    rng = random.Random(7)
    indexes = [rng.randrange(size) for _ in range(PROOFS)]
    began = time.perf_counter()
    for index in indexes:
        services.inclusion_proof(index, size)
    result["proofs"] = _rate(len(indexes), time.perf_counter() - began)
    began = time.perf_counter()
    for index in indexes[:5000]:
        services.inclusion(index)
    result["inclusion_service"] = _rate(5000, time.perf_counter() - began)

    began = time.perf_counter()
    for batch in range(300):  # a request-like load: 10 events per transaction, integrated on commit as deployed
        with transaction.atomic():
            for i in range(10):
                services.record(actor="bench", action="exchange.query", subject=f"resource:B-{batch}",
                                department="market", payload={"i": i})
    result["record_commit"] = _rate(3000, time.perf_counter() - began)
    integrator.integrate()  # what the SQLite coalescing window left for the worker
    assert services.tree_size() == size + 3000

    result.update(_lag())

    if baseline:
        began = time.perf_counter()
        report = verify_ledger()
        result["verify"] = _rate(report.entries, time.perf_counter() - began)
        assert report.ok, str(report.problem)
        result.update(_pymerkle(entries, Path(settings.DATA_DIR)))
    connection.close()
    return result


def _lag() -> dict[str, float]:
    """Commit-to-checkpoint lag as deployed: separate processes (like gunicorn's sync workers)
    recording with on-commit integration, plus the ``integrate --follow`` worker.

    Two recorder processes commit 10-event transactions, 2 ms apart (the rest of a request),
    for five seconds; each event's lag is the time from its commit to the first checkpoint
    that covers it.
    """
    from tongban.ledger.models import Checkpoint, LedgerEvent

    began = time.time()
    follower = subprocess.Popen([str(Path(sys.executable).with_name("tongban")), "ledger", "integrate", "--follow"],
                                stdout=subprocess.DEVNULL)
    recorders = [subprocess.Popen([sys.executable, __file__, "--recorder", "5"], stdout=subprocess.PIPE, text=True)
                 for _ in range(2)]
    commits = [tuple(json.loads(line)) for recorder in recorders for line in recorder.communicate()[0].splitlines()]
    time.sleep(1.5)
    follower.terminate()
    follower.wait(timeout=30)
    index_of = dict(LedgerEvent.objects.filter(pk__in=[pk for pk, _ in commits]).values_list("pk", "index"))
    signed = sorted((c.size, c.created_at.timestamp()) for c in Checkpoint.objects.filter(created_at__gte=_utc(began)))
    lags = sorted(max(0.0, next(t for size, t in signed if size > index_of[pk]) - committed)
                  for pk, committed in commits)
    return {"lag_p50_ms": 1000 * lags[len(lags) // 2], "lag_max_ms": 1000 * lags[-1],
            "lag_load": len(commits) * 10 / 5}


def recorder(seconds: float) -> None:
    """A recording process for ``_lag``: prints ``[last event id, commit time]`` per transaction."""
    import django

    django.setup()
    from django.db import transaction

    from tongban.ledger import services

    until = time.time() + seconds
    while time.time() < until:
        with transaction.atomic():
            last = [services.record(actor="bench", action="exchange.query", payload={"i": i}) for i in range(10)][-1]
            committing = time.time()  # COMMIT and the on-commit integration come next
        print(json.dumps([last.pk, committing]), flush=True)
        time.sleep(0.002)


def _utc(timestamp: float):
    import datetime

    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC)


def _pymerkle(entries: list[bytes], directory: Path) -> dict[str, float]:
    from pymerkle import SqliteTree

    result = {}
    with SqliteTree(str(directory / "pymerkle.sqlite3")) as tree:
        began = time.perf_counter()
        for start in range(0, len(entries), BATCH):
            tree.append_entries(entries[start:start + BATCH], chunksize=BATCH)
            tree.get_root()  # a log signs a checkpoint per batch: it needs the root
        result["pymerkle_append"] = _rate(len(entries), time.perf_counter() - began)
        rng = random.Random(7)
        began = time.perf_counter()
        for _ in range(PYMERKLE_PROOFS):
            tree.prove_inclusion(rng.randrange(len(entries)) + 1, len(entries))  # pymerkle counts from 1
        result["pymerkle_proofs"] = _rate(PYMERKLE_PROOFS, time.perf_counter() - began)
    with SqliteTree(str(directory / "pymerkle-bulk.sqlite3")) as tree:
        began = time.perf_counter()
        tree.append_entries(entries)
        result["pymerkle_bulk"] = _rate(len(entries), time.perf_counter() - began)
    return result


if __name__ == "__main__" and len(sys.argv) >= 3 and sys.argv[1] == "--worker":
    print(json.dumps(worker(Path(sys.argv[2]), "--baseline" in sys.argv)))
elif __name__ == "__main__" and len(sys.argv) >= 3 and sys.argv[1] == "--recorder":
    recorder(float(sys.argv[2]))

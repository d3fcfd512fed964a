"""Mixed traffic on a demo node (issue 11 item 5): exchange queries and verifies, one-stop
applications, catalog search and public page views at once, for ``TONGBAN_BENCH_MIXED_SECONDS``
(300), at the highest concurrency the machine sustains without errors; then the ledger must verify
and hold exactly one entry per access.

For each database (SQLite in a temporary data directory; PostgreSQL in a throwaway database when
one is reachable at ``TONGBAN_BENCH_PG``, or in ``DATABASE_URL`` if set — a scratch database) the
bench:

1. migrates, collects the static files (the pages need their manifest) and loads the demo province (``tongban demo``: 1,000 citizens, 61 catalog resources,
   ~4,600 exchange records, 10 service items, 12 policies);
2. adds a consumer department ``benchsys`` with a query + verify grant on ``civil-00001``
   (婚姻登记信息; high rate limit) and a department-system token, and citizen accounts with API
   tokens for demo citizens; each (citizen, item) pair used by the load was tried once in a
   rolled-back transaction (start → submit succeeds with the prefilled form: the two instant
   items and the old-age allowance);
3. starts the real server (``tongban serve`` with its default workers, or ``TONGBAN_BENCH_WORKERS``)
   and the ledger sequencer that seals accesses during the run (``bench_exchange``'s);
4. ramps: ``TONGBAN_BENCH_MIXED_RAMP`` (default 1,2,4,8,16) concurrent clients for
   ``TONGBAN_BENCH_MIXED_RAMP_SECONDS`` (8) each, and keeps the concurrency with the most
   requests/s without an error (the smallest one within 5 % of the best, so that queueing does
   not inflate the latency for nothing);
5. drives that concurrency for ``TONGBAN_BENCH_MIXED_SECONDS`` (closed loop: each client issues
   its next action when the last has been answered; a new connection per request, since
   the sync workers close each one). The action mix, by weight: query 30, verify 15,
   application (3 requests: ``POST /applications`` → ``PATCH`` the form → ``submit``) 10, catalog
   search 15, page view 30 (``/services/``, ``/policies/``, ``/catalog/`` in turn);
6. stops the load, lets the sequencer drain, runs ``tongban ledger verify`` and checks that
   ``benchsys``'s Access rows equal the answered queries + verifies and that every Access row
   (those of the applications' prefill reads too) has exactly one ``exchange.access`` ledger entry.

The load generator is ``CLIENT_PROCESSES`` (2) processes of threads with ``http.client`` (httpx
is not installed here); it shares the 2 cores with the server, as in ``bench_exchange``.

Run: ``.venv/bin/python bench/run.py bench_mixed``, or this file directly (``--sqlite``, ``--pg``;
``TONGBAN_BENCH_MIXED_SECONDS=20`` for a quick try).
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import bench_exchange as bx  # noqa: E402 - the server, sequencer and PostgreSQL helpers

BIN = ROOT / ".venv" / "bin"
SECONDS = float(os.environ.get("TONGBAN_BENCH_MIXED_SECONDS", "300"))
RAMP = [int(x) for x in os.environ.get("TONGBAN_BENCH_MIXED_RAMP", "1,2,4,8,16").split(",") if x.strip()]
RAMP_SECONDS = float(os.environ.get("TONGBAN_BENCH_MIXED_RAMP_SECONDS", "8"))
WARMUP = 1.0
CLIENT_PROCESSES = 2
CITIZENS = 120  # demo citizens given accounts (tried against the items)
RESOURCE = "civil-00001"
CONSUMER = "benchsys"
ITEMS = ("330000-civil-QR-0001", "330000-hr-GG-0001", "330000-civil-JF-0001")
MIX = (("query", 30), ("verify", 15), ("application", 10), ("search", 15), ("page", 30))
KINDS = ("query", "verify", "apply start", "apply save", "apply submit", "search", "page")
PAGES = ("/services/", "/policies/", "/catalog/")
SEARCHES = ("婚姻", "企业", "社会保险", "人口", "许可", "医疗", "税务", "登记")


# --- the bench ------------------------------------------------------------------------------------------


def run(databases: tuple[str, ...] = ("sqlite", "postgresql")) -> list[dict]:
    return bx.run_per_database(_measure, databases, prefix="tongban-bench-mixed-")


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = bx._env(extra)
    env.pop("TONGBAN_BENCH_BARE", None)  # a demo-like node: no bench-only route
    return env


def _measure(label: str, extra: dict[str, str]) -> list[dict]:
    env = _env(extra)
    began = time.monotonic()
    subprocess.run([str(BIN / "tongban"), "migrate", "--noinput", "-v", "0"], env=env, check=True, timeout=900)
    subprocess.run([str(BIN / "tongban"), "collectstatic", "--noinput", "-v", "0"], env=env, check=True, timeout=600)
    subprocess.run([str(BIN / "tongban"), "demo"], env=env, check=True, timeout=1800, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    setup = subprocess.run([sys.executable, __file__, "--setup"], env=env, capture_output=True, text=True,
                           timeout=1800, check=False)
    if setup.returncode != 0:
        raise RuntimeError(f"mixed bench setup failed:\n{setup.stderr[-4000:]}")
    fixture = json.loads(setup.stdout.strip().splitlines()[-1])
    print(f"  {label} set-up: demo + {len(fixture['pairs'])} citizen/item pairs in {time.monotonic() - began:.0f} s",
          flush=True)
    port = bx._free_port()
    # The shipped default (``serving.default_workers``) unless the run says otherwise.
    workers = ["--workers", os.environ["TONGBAN_BENCH_WORKERS"]] if os.environ.get("TONGBAN_BENCH_WORKERS") else []
    server = subprocess.Popen([str(BIN / "tongban"), "serve", "--bind", f"127.0.0.1:{port}", *workers],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    sequencer = subprocess.Popen([sys.executable, bx.__file__, "--sequencer"], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True, start_new_session=True)
    answered = {"query": 0, "verify": 0}
    try:
        bx._wait_for(port)
        ramp = []
        for clients in RAMP:
            result = load_test(port, fixture, clients, RAMP_SECONDS)
            ramp.append((clients, result))
            _count_answered(answered, result)
            print(f"  {label} ramp {clients} clients: {_describe(result)}", flush=True)
            if result["errors"]:
                break
        clean = [(c, r) for c, r in ramp if not r["errors"]]
        if not clean:
            raise RuntimeError(f"errors at every ramp step: {ramp[0][1]['statuses']}")
        best = max(r["rate"] for _, r in clean)
        clients = min(c for c, r in clean if r["rate"] >= 0.95 * best)
        main = load_test(port, fixture, clients, SECONDS)
        _count_answered(answered, main)
        print(f"  {label} {SECONDS:.0f} s at {clients} clients: {_describe(main)}", flush=True)
    finally:
        bx._stop(server)
    time.sleep(0.5)
    check = _drain_and_check(env, sequencer, answered, fixture)
    print(f"  {label} ledger check: {check}", flush=True)
    rows = [
        {"name": f"mixed traffic over HTTP, {label}, {clients} clients, {SECONDS:.0f} s (all kinds)",
         "value": main["rate"], "unit": "req/s"},
        {"name": f"mixed traffic p50, {label} (all kinds)", "value": main["p50"], "unit": "ms"},
        {"name": f"mixed traffic p99, {label} (all kinds)", "value": main["p99"], "unit": "ms"},
    ]
    for kind in KINDS:
        part = main["kinds"][kind]
        rows += [
            {"name": f"  {kind}, {label}", "value": part["rate"], "unit": "req/s"},
            {"name": f"  {kind} p50, {label}", "value": part["p50"], "unit": "ms"},
            {"name": f"  {kind} p99, {label}", "value": part["p99"], "unit": "ms"},
        ]
    rows += [
        {"name": f"applications completed start → save → submit, {label}", "value": main["applications"] / SECONDS,
         "unit": "per s"},
        {"name": f"errors (unexpected status or no answer), {label} (must be 0)", "value": main["errors"],
         "unit": "requests"},
        {"name": f"ramp: best rate without errors, {label} (at {clients} clients)", "value": best, "unit": "req/s"},
        {"name": f"tongban ledger verify after the run, {label} (0 = passes)", "value": check["verify_status"],
         "unit": "exit status"},
        {"name": f"answered queries + verifies without their Access row, {label}", "value": check["unlogged"],
         "unit": "requests"},
        {"name": f"accesses without exactly one ledger entry after draining, {label} (of {check['accesses']})",
         "value": check["unsealed"], "unit": "accesses"},
    ]
    return rows


def _count_answered(answered: dict, result: dict) -> None:
    for kind in ("query", "verify"):
        answered[kind] += result["answered"].get(kind, 0)


def _describe(result: dict) -> str:
    kinds = ", ".join(f"{k} {v['rate']:.0f}/s p99 {v['p99']:.0f}" for k, v in result["kinds"].items())
    return (f"{result['rate']:,.0f} req/s, p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms, "
            f"{result['errors']} errors {result['statuses'] if result['errors'] else ''}; {kinds}; "
            f"load {os.getloadavg()[0]:.1f}")


# --- the load generator: processes of threads, http.client, one connection per request -----------------


def load_test(port: int, fixture: dict, clients: int, seconds: float) -> dict:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    start_at = time.time() + 0.5
    processes = []
    for p in range(CLIENT_PROCESSES):
        threads = clients // CLIENT_PROCESSES + (p < clients % CLIENT_PROCESSES)
        if threads:
            processes.append(ctx.Process(target=_client, args=(port, fixture, threads, p, CLIENT_PROCESSES, start_at,
                                                               seconds, queue)))
    for process in processes:
        process.start()
    parts = [queue.get(timeout=seconds + 300) for _ in processes]
    for process in processes:
        process.join()
    latencies = {kind: sorted(x for part in parts for x in part["latencies"].get(kind, [])) for kind in KINDS}
    everything = sorted(x for values in latencies.values() for x in values)
    ok = len(everything)
    errors = sum(part["errors"] for part in parts)
    kinds = {kind: {"rate": len(values) / seconds, "p50": bx._percentile(values, 50),
                    "p99": bx._percentile(values, 99)} for kind, values in latencies.items()}
    return {"rate": ok / seconds, "ok": ok, "errors": errors, "p50": bx._percentile(everything, 50),
            "p99": bx._percentile(everything, 99), "kinds": kinds,
            "statuses": bx._merge([part["statuses"] for part in parts]),
            "answered": bx._merge([part["answered"] for part in parts]),
            "applications": sum(part["applications"] for part in parts)}


def _client(port, fixture, threads, index, stride, start_at, seconds, queue) -> None:
    lock = threading.Lock()
    latencies: dict[str, list[float]] = {kind: [] for kind in KINDS}
    statuses: dict[str, int] = {}
    answered: dict[str, int] = {}  # every 200 query / verify, warm-up included (each is an Access row)
    counts = {"errors": 0, "applications": 0}
    time.sleep(max(0.0, start_at - time.time()))
    began = time.perf_counter()
    measure_from = began + WARMUP
    stop_at = measure_from + seconds
    total = threads * stride
    # The pairs are split among all threads of all processes: a citizen never runs two flows at once.
    pairs = fixture["pairs"]

    def request(kind, method, path, token, body=None, expect=200) -> dict | None:
        headers = {"Host": "127.0.0.1", "Connection": "close"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        t0 = time.perf_counter()
        status, data = 0, b""
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            status, data = response.status, response.read()
            connection.close()
        except (OSError, http.client.HTTPException):
            status = 0
        now = time.perf_counter()
        with lock:
            if kind in ("query", "verify") and status == 200:
                answered[kind] = answered.get(kind, 0) + 1
            if measure_from <= t0 and now <= stop_at:
                if status == expect:
                    latencies[kind].append((now - t0) * 1000)
                else:
                    counts["errors"] += 1
                    key = f"{kind} {status}"
                    statuses[key] = statuses.get(key, 0) + 1
                    if statuses[key] <= 2:
                        print(f"    {key}: {data[:300]!r}", file=sys.stderr, flush=True)
        if status != expect:
            return None
        try:
            return json.loads(data) if data and kind.startswith("apply") else {}
        except ValueError:
            return {}

    def loop(thread: int) -> None:
        slot = index + thread * stride
        rng = random.Random(slot * 7919 + 1)
        mine = pairs[slot::total] or pairs[:1]
        code, token, subjects = fixture["code"], fixture["token"], fixture["subjects"]
        names = [name for name, _ in MIX]
        weights = [weight for _, weight in MIX]
        page = slot
        while time.perf_counter() < stop_at:
            action = rng.choices(names, weights)[0]
            if action == "query":
                request("query", "GET", f"/api/v1/exchange/resources/{code}/records/{rng.choice(subjects)}", token)
            elif action == "verify":
                request("verify", "POST", f"/api/v1/exchange/resources/{code}/verify", token,
                        {"subject": rng.choice(subjects), "claims": {"marital_status": rng.choice(("10", "20"))}})
            elif action == "application":
                pair = rng.choice(mine)
                started = request("apply start", "POST", "/api/v1/onestop/applications", pair["token"],
                                  {"item": pair["item"]}, expect=201)
                if started is None:
                    continue
                number = started["number"]
                saved = request("apply save", "PATCH", f"/api/v1/onestop/applications/{number}", pair["token"],
                                {"form": pair["form"]})
                if saved is None:
                    continue
                submitted = request("apply submit", "POST", f"/api/v1/onestop/applications/{number}/submit",
                                    pair["token"])
                if submitted is not None and measure_from <= time.perf_counter() <= stop_at:
                    with lock:
                        counts["applications"] += 1
            elif action == "search":
                request("search", "GET", f"/api/v1/catalog/resources?q={_quote(rng.choice(SEARCHES))}", None)
            else:
                page += 1
                request("page", "GET", PAGES[page % len(PAGES)], None)

    workers = [threading.Thread(target=loop, args=(t,), daemon=True) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    queue.put({"latencies": latencies, "statuses": statuses, "answered": answered, **counts})


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text)


# --- setup and check (run as subprocesses with the database's settings) ----------------------------------


def setup() -> dict:
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    import datetime

    from django.db import transaction
    from django.utils import timezone

    from tests.exchange.factories import official, system_token
    from tongban.catalog import services as catalog
    from tongban.core import generations
    from tongban.exchange.models import Grant, Record
    from tongban.identity import tokens
    from tongban.identity.access import actor_for_user
    from tongban.identity.models import Citizen, Department, User
    from tongban.onestop.services import applications

    resource = catalog.get_published(RESOURCE)
    keys = [item.key for item in catalog.items_of(resource)]
    with transaction.atomic():
        official(CONSUMER, "clerk")
        now = timezone.now()
        grant = Grant.objects.create(
            resource_code=resource.code, provider=resource.department,
            consumer=Department.objects.get(code=CONSUMER), items=keys,
            clear_items=[k for k in keys if k in ("marital_status", "registered_on", "registry")],
            modes=["query", "verify"], purpose="婚姻状况核查（混合负载基准）", rate_limit_per_minute=2_000_000_000,
            starts_at=now - datetime.timedelta(minutes=1), expires_at=now + datetime.timedelta(days=1),
            created_by="bench")
        generations.bump()
    token = system_token(CONSUMER, "exchange:query", "exchange:verify")
    subjects = list(Record.objects.filter(resource_code=RESOURCE).values_list("subject", flat=True))

    class _Undo(Exception):
        pass

    pairs = []
    for citizen in Citizen.objects.order_by("pk")[:CITIZENS]:
        with transaction.atomic():
            user = citizen.user
            if user is None:
                user = User.objects.create(username=f"bench-citizen-{citizen.pk}", kind=User.Kind.CITIZEN,
                                           full_name=citizen.name, phone=citizen.phone)
                Citizen.objects.filter(pk=citizen.pk).update(user=user)
        user = User.objects.get(pk=user.pk)
        actor = actor_for_user(user)
        usable = []
        for item in ITEMS:  # tried once, rolled back: start → submit with the prefilled form
            try:
                with transaction.atomic():
                    application = applications.start_application(actor, item)
                    applications.submit(actor, application.number)
                    raise _Undo
            except _Undo:
                usable.append(item)
            except Exception:  # noqa: BLE001 - this citizen cannot apply for this item
                continue
        if usable:
            with transaction.atomic():
                key = tokens.issue_user_token(user).key
            pairs += [{"item": item, "token": key, "form": {}} for item in usable]
    if not pairs:
        raise RuntimeError("no demo citizen can apply for the items")
    return {"code": resource.code, "token": token, "subjects": subjects, "grant": grant.pk, "pairs": pairs}


def check(answered: int, grant_id: int) -> dict:
    import django

    django.setup()
    from django.db.models import Count

    from tongban.exchange.models import Access
    from tongban.ledger.models import LedgerEvent

    ours = Access.objects.filter(grant_id=grant_id, mode__in=("query", "verify")).count()
    accesses = Access.objects.count()
    pending = Access.objects.filter(ledger_event_id__isnull=True).count()
    # every Access row points at its own integrated exchange.access entry, and no entry is shared
    linked = set(Access.objects.filter(subject_count__lte=500).values_list("ledger_event_id", flat=True))
    entries = LedgerEvent.objects.filter(action="exchange.access")
    integrated = entries.filter(index__isnull=False).count()
    shared = (Access.objects.filter(ledger_event_id__isnull=False).values("ledger_event_id")
              .annotate(n=Count("id")).filter(n__gt=1).count())
    missing = len(linked - set(entries.filter(pk__in=[x for x in linked if x], index__isnull=False)
                               .values_list("pk", flat=True)))
    big = Access.objects.filter(subject_count__gt=500).count()
    return {"answered": answered, "benchsys_accesses": ours, "accesses": accesses, "pending": pending,
            "ledger_entries": entries.count(), "integrated": integrated, "big_lookups": big,
            "unlogged": max(0, answered - ours) + max(0, ours - answered),
            "unsealed": pending + missing + shared + (0 if big else abs(integrated - accesses))}


def _drain_and_check(env: dict[str, str], sequencer_process: subprocess.Popen, answered: dict, fixture: dict) -> dict:
    command = [sys.executable, __file__, "--check", str(sum(answered.values())), str(fixture["grant"])]
    deadline = time.monotonic() + 180
    result = {}
    while time.monotonic() < deadline:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-3000:])
        result = json.loads(done.stdout.strip().splitlines()[-1])
        if result["pending"] == 0 and result["unsealed"] == 0:
            break
        time.sleep(1)
    bx._stop(sequencer_process)
    verify = subprocess.run([str(BIN / "tongban"), "ledger", "verify"], env=env, capture_output=True, text=True,
                            timeout=1800, check=False)
    if verify.returncode != 0:
        print(f"  ledger verify failed:\n{verify.stdout[-2000:]}\n{verify.stderr[-2000:]}", file=sys.stderr)
    result["verify_status"] = verify.returncode
    result["verify_output"] = (verify.stdout.strip().splitlines() or [""])[-1][:200]
    return result


def main(argv: list[str]) -> int:
    if argv[:1] == ["--setup"]:
        print(json.dumps(setup()))
    elif argv[:1] == ["--check"]:
        print(json.dumps(check(int(argv[1]), int(argv[2]))))
    else:
        flags = (("--sqlite", "sqlite"), ("--pg", "postgresql"))
        databases = tuple(db for flag, db in flags if flag in argv)
        for row in run(databases or ("sqlite", "postgresql")):
            print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

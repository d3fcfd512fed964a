"""Crash safety: real processes killed with SIGKILL mid-work lose nothing and leave nothing half done.

1. ``tongban serve`` (uWSGI) is killed — its whole process group — while it loads a 100,000-row
   NDJSON batch, inside the load's transaction (seen from outside: on SQLite the database write
   lock held for a while, on PostgreSQL the load's lock on ``exchange_record``) and before it has
   answered. After a restart the batch is entirely absent or entirely present, the next batch
   continues the change sequence, and ``tongban ledger verify`` passes.
2. ``tongban ledger integrate`` is killed once the tree has started growing; a second run
   completes it: every entry has exactly one index, 0..n-1, and the ledger verifies.

Each test gets a node of its own: a data dir and, on the PostgreSQL run (``DATABASE_URL`` set), a
database created and dropped here (as in ``tests/core/test_backup.py``). The test watches the
node's database directly (sqlite3 / psycopg), never through the suite's test database.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

TONGBAN = str(Path(sys.executable).with_name("tongban"))
ROOT = Path(__file__).resolve().parents[2]  # the checkout: `tests` importable by the node scripts
PG_URL = os.environ.get("DATABASE_URL", "")
ON_PG = PG_URL.startswith(("postgres://", "postgresql://"))

ROWS = 100_000
PRELOADED = 10  # a first small batch: the resource's state row and change sequence exist before the crash
LEDGER_EVENTS = 30_000
INTEGRATE_BATCH = 250  # entries per integrator transaction: 120 commits to land the kill between
HELD_SECONDS = 0.5  # how long the load must be seen inside its transaction before the kill

SETUP = (
    "import django, json; django.setup()\n"
    "from django.db import transaction\n"
    "from tests.exchange.factories import person_resource, system_token\n"
    "with transaction.atomic():\n"
    "    resource = person_resource('civil')\n"
    "token = system_token('civil', 'exchange:records:write')\n"
    "print(json.dumps({'code': resource.code, 'token': token}))\n"
)
RECORD_PENDING = (
    "import django, sys; django.setup()\n"
    "from django.db import transaction\n"
    "from tongban.ledger import services\n"
    "total = int(sys.argv[1])\n"
    "for start in range(0, total, 5000):\n"
    "    with transaction.atomic():\n"
    "        services.record_many([services.build_event(actor='clerk', action='test.recorded',\n"
    "                              subject=f'resource:R-{i:06d}', payload={'i': i, 'note': '数据共享'},\n"
    "                              department='market') for i in range(start, min(start + 5000, total))],\n"
    "                             schedule_integration=False)\n"
)


# --- nodes ------------------------------------------------------------------------------------------


def _pg_admin():
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(PG_URL)
    return config, psycopg.connect(host=config["HOST"] or None, port=config["PORT"] or None,
                                   user=config["USER"] or None, password=config["PASSWORD"] or None,
                                   dbname="postgres", autocommit=True)


class Node:
    """A data dir (and on PostgreSQL a database of its own), its environment, and a direct,
    read-mostly connection to its database for watching it from outside."""

    def __init__(self, root: Path) -> None:
        self.data_dir = root
        self.env = {**os.environ, "TONGBAN_DATA_DIR": str(root), "DJANGO_SETTINGS_MODULE": "tongban.site.settings"}
        for name in ("TONGBAN_SECRET_KEY", "TONGBAN_BACKUP_PASSPHRASE", "TONGBAN_REDIS_URL"):
            self.env.pop(name, None)
        self.database = None
        self._connection = None
        if ON_PG:
            config, admin = _pg_admin()
            self.database = f"tongban_crash_{uuid.uuid4().hex[:12]}"
            with admin:
                admin.execute(f'CREATE DATABASE "{self.database}"')
            user = f"{config['USER']}{':' + config['PASSWORD'] if config['PASSWORD'] else ''}@"
            self.env["DATABASE_URL"] = f"postgres://{user}{config['HOST']}:{config['PORT'] or 5432}/{self.database}"
            self._pg = config
        else:
            self.env.pop("DATABASE_URL", None)

    def tongban(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        done = subprocess.run([TONGBAN, *args], env=self.env, cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout)
        if check:
            assert done.returncode == 0, f"tongban {' '.join(args)}: {done.stdout}{done.stderr}"
        return done

    def python(self, script: str, *args: str) -> str:
        return subprocess.run([sys.executable, "-c", script, *args], env=self.env, cwd=ROOT, capture_output=True,
                              text=True, check=True, timeout=300).stdout

    # Watching the database from outside.

    def connection(self):
        if self._connection is None:
            if ON_PG:
                import psycopg

                config = self._pg
                self._connection = psycopg.connect(
                    host=config["HOST"] or None, port=config["PORT"] or None, user=config["USER"] or None,
                    password=config["PASSWORD"] or None, dbname=self.database, autocommit=True)
            else:
                self._connection = sqlite3.connect(self.data_dir / "tongban.sqlite3", isolation_level=None,
                                                   timeout=20)
        return self._connection

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        if not ON_PG:
            sql = sql.replace("%s", "?")
        return list(self.connection().execute(sql, params).fetchall())

    def scalar(self, sql: str, params: tuple = ()):
        return self.rows(sql, params)[0][0]

    def in_load_transaction(self) -> bool:
        """Is some other connection inside a write transaction of a batch load right now?"""
        if ON_PG:
            # The load holds ROW EXCLUSIVE on exchange_record from its first chunk to its end.
            return bool(self.scalar(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE c.relname = 'exchange_record' AND l.mode = 'RowExclusiveLock' AND l.granted "
                "AND l.pid <> pg_backend_pid() "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"))
        # SQLite: the load's IMMEDIATE transaction holds the database write lock throughout.
        probe = sqlite3.connect(self.data_dir / "tongban.sqlite3", isolation_level=None, timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            return True
        finally:
            probe.close()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self.database:
            _, admin = _pg_admin()
            with admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


@pytest.fixture
def node(tmp_path):
    created = Node(tmp_path / "node")
    try:
        created.tongban("migrate", "-v0")
        yield created
    finally:
        created.close()


def _kill_group(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


def _ledger_consistent(node: Node) -> int:
    """Every numbered entry has a unique index 0..size-1 and the latest checkpoint is at size."""
    size = node.scalar("SELECT size FROM ledger_state") or 0
    numbered, distinct, low, high = node.rows(
        "SELECT count(*), count(DISTINCT idx), min(idx), max(idx) FROM ledger_event WHERE idx IS NOT NULL")[0]
    assert (numbered, distinct) == (size, size), "an index is missing or repeated"
    if size:
        assert (low, high) == (0, size - 1)
    assert node.scalar("SELECT max(size) FROM ledger_checkpoint") == size
    return size


# --- 1. a server killed in the middle of a 100,000-row batch -----------------------------------------


@pytest.fixture(scope="module")
def big_batch() -> bytes:
    from tests.exchange.factories import person_row

    return "".join(json.dumps(person_row(n), ensure_ascii=False) + "\n" for n in range(ROWS)).encode()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``tongban serve`` in a process group of its own (serve, the uWSGI master and workers)."""

    def __init__(self, node: Node, token: str) -> None:
        self.port = _free_port()
        self.token = token
        self.log = open(node.data_dir / f"serve-{self.port}.log", "wb")  # closed in stop()
        self.process = subprocess.Popen([TONGBAN, "serve", "--bind", f"127.0.0.1:{self.port}", "--workers", "2"],
                                        env=node.env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def request(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None,
                timeout: float = 120) -> tuple[int, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Authorization": f"Bearer {self.token}"}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, json.loads(response.read() or b"null")
        finally:
            connection.close()

    def wait_ready(self, code: str) -> None:
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, f"tongban serve exited: {self.process.returncode}"
            try:
                status, _ = self.request("GET", f"/api/v1/exchange/resources/{code}/batches", timeout=5)
                assert status == 200, status
                return
            except OSError:
                assert time.monotonic() < deadline, "tongban serve did not come up"
                time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        _kill_group(self.process, sig)
        self.log.close()


def _post_ndjson(server: Server, code: str, body: bytes, outcome: dict) -> None:
    try:
        outcome["answer"] = server.request("POST", f"/api/v1/exchange/resources/{code}/records", body,
                                           "application/x-ndjson", timeout=300)
    except (OSError, http.client.HTTPException) as error:  # the server died under the request
        outcome["error"] = error


def _state(node: Node, code: str) -> dict:
    seq, count = node.rows("SELECT last_seq, record_count FROM exchange_resourcestate WHERE resource_code = %s",
                           (code,))[0]
    return {
        "records": node.scalar("SELECT count(*) FROM exchange_record WHERE resource_code = %s", (code,)),
        "versions": node.scalar("SELECT count(*) FROM exchange_recordversion WHERE resource_code = %s", (code,)),
        "batches": node.scalar("SELECT count(*) FROM exchange_batch WHERE resource_code = %s", (code,)),
        "last_seq": seq, "record_count": count,
        "loaded_entries": node.scalar("SELECT count(*) FROM ledger_event WHERE action = 'exchange.records_loaded'"),
    }


def test_killed_server_leaves_a_100k_batch_all_or_nothing(node, big_batch):
    started = time.monotonic()
    setup = json.loads(node.python(SETUP).strip().splitlines()[-1])
    code, token = setup["code"], setup["token"]
    server = Server(node, token)
    try:
        server.wait_ready(code)
        first = b"".join(json.dumps(row, ensure_ascii=False).encode() + b"\n" for row in _rows(PRELOADED, ROWS))
        status, body = server.request("POST", f"/api/v1/exchange/resources/{code}/records", first,
                                      "application/x-ndjson")
        assert status == 201 and body["last_seq"] == PRELOADED, body
        before = _state(node, code)
        assert before == {"records": PRELOADED, "versions": PRELOADED, "batches": 1, "last_seq": PRELOADED,
                          "record_count": PRELOADED, "loaded_entries": 1}

        # The big batch: upload it, wait until the load is inside its transaction (for a while, so
        # it is the load and not a short write), then kill the whole process group at once.
        outcome: dict = {}
        client = threading.Thread(target=_post_ndjson, args=(server, code, big_batch, outcome), daemon=True)
        client.start()
        deadline = time.monotonic() + 120
        held_since = None
        while True:
            assert not outcome, f"the server answered before it could be killed: {outcome}"
            assert time.monotonic() < deadline, "the load never showed inside its transaction"
            if node.in_load_transaction():
                held_since = held_since or time.monotonic()
                if time.monotonic() - held_since >= HELD_SECONDS:
                    break
            else:
                held_since = None
            time.sleep(0.02)
        killed_at = time.monotonic() - started
        server.stop(signal.SIGKILL)
        client.join(timeout=60)
        assert "error" in outcome and "answer" not in outcome, f"the load answered: {outcome}"

        # Restarted: the batch is all there or not there at all.
        server = Server(node, token)
        server.wait_ready(code)
        after = _state(node, code)
        present = {"records": PRELOADED + ROWS, "versions": PRELOADED + ROWS, "batches": 2,
                   "last_seq": PRELOADED + ROWS, "record_count": PRELOADED + ROWS, "loaded_entries": 2}
        assert after in (before, present), f"a partial batch survived the crash: {after}"
        if after == present:
            rows, first_seq, last_seq = node.rows(
                "SELECT rows, first_seq, last_seq FROM exchange_batch WHERE resource_code = %s "
                "ORDER BY id DESC LIMIT 1", (code,))[0]
            assert (rows, first_seq, last_seq) == (ROWS, PRELOADED + 1, PRELOADED + ROWS)
        status, history = server.request("GET", f"/api/v1/exchange/resources/{code}/batches")
        assert status == 200 and history["count"] == after["batches"]

        # The restarted server loads the next batch right after the surviving sequence: no gap.
        following = b"".join(json.dumps(row, ensure_ascii=False).encode() + b"\n"
                             for row in _rows(3, ROWS + PRELOADED))
        status, body = server.request("POST", f"/api/v1/exchange/resources/{code}/records", following,
                                      "application/x-ndjson")
        assert status == 201, body
        assert (body["first_seq"], body["last_seq"]) == (after["last_seq"] + 1, after["last_seq"] + 3)
    finally:
        server.stop()

    node.tongban("ledger", "integrate")
    verified = node.tongban("ledger", "verify", check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert _ledger_consistent(node) == node.scalar("SELECT count(*) FROM ledger_event")
    print(f"\nkilled {killed_at:.1f}s in; batch {'present' if after['batches'] == 2 else 'absent'} after restart; "
          f"{time.monotonic() - started:.1f}s in all")


def _rows(count: int, start: int) -> list[dict]:
    from tests.exchange.factories import person_row

    return [person_row(n) for n in range(start, start + count)]


# --- 2. the integrator killed in the middle of integrating ---------------------------------------------


def test_killed_integrator_resumes_without_gap_or_duplicate(node):
    started = time.monotonic()
    node.python(RECORD_PENDING, str(LEDGER_EVENTS))
    assert node.scalar("SELECT count(*) FROM ledger_event WHERE idx IS NULL") == LEDGER_EVENTS

    integrator = subprocess.Popen([TONGBAN, "ledger", "integrate", "--batch-size", str(INTEGRATE_BATCH)],
                                  env=node.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  start_new_session=True)
    deadline = time.monotonic() + 120
    try:
        while True:
            assert integrator.poll() is None, "the integrator finished before it could be killed"
            assert time.monotonic() < deadline, "the tree never started growing"
            rows = node.rows("SELECT size FROM ledger_state")
            if rows and rows[0][0] >= 10 * INTEGRATE_BATCH:  # grown, well before the end
                break
            time.sleep(0.005)
    finally:
        _kill_group(integrator)
    assert integrator.returncode == -signal.SIGKILL

    # Killed: whole batches only, each with its checkpoint; the rest still pending, none numbered twice.
    size = _ledger_consistent(node)
    assert 0 < size < LEDGER_EVENTS, size
    assert size % INTEGRATE_BATCH == 0, f"a partial integrator batch was committed: size {size}"
    assert node.scalar("SELECT count(*) FROM ledger_event WHERE idx IS NULL") == LEDGER_EVENTS - size
    verified = node.tongban("ledger", "verify", check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    # Run again: it takes up exactly where the killed one stopped.
    done = node.tongban("ledger", "integrate", "--batch-size", str(INTEGRATE_BATCH))
    assert f"integrated {LEDGER_EVENTS - size} entries; tree size {LEDGER_EVENTS}" in done.stdout
    assert _ledger_consistent(node) == LEDGER_EVENTS
    assert node.scalar("SELECT count(*) FROM ledger_event WHERE idx IS NULL") == 0
    verified = node.tongban("ledger", "verify", check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    print(f"\nkilled at tree size {size} of {LEDGER_EVENTS}; {time.monotonic() - started:.1f}s in all")

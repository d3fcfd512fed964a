"""``tongban serve`` as a deployer runs it (``core.serving``): the real uWSGI server in processes
of its own, on a migrated SQLite data dir (the server does not depend on the database; the crash
tests run it on PostgreSQL too).

- identifiers in request paths never reach the log; query strings are not logged;
- a request with large headers (a browser with big cookies) is served;
- a stop (SIGTERM to the process group, as systemd sends it) ends every process promptly;
- a ``serve`` killed outright leaves no server behind holding the port.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

TONGBAN = str(Path(sys.executable).with_name("tongban"))
ROOT = Path(__file__).resolve().parents[2]
ID_NUMBER = "330106198001010005"
PHONE = "13812345678"


@pytest.fixture(scope="module")
def data_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    env = {**os.environ, "TONGBAN_DATA_DIR": str(root), "DJANGO_SETTINGS_MODULE": "tongban.site.settings",
           "TONGBAN_LOG_LEVEL": "INFO"}
    env.pop("DATABASE_URL", None)
    subprocess.run([TONGBAN, "migrate", "--noinput", "-v", "0"], env=env, cwd=ROOT, check=True, timeout=300)
    return root, env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Serve:
    def __init__(self, root: Path, env: dict) -> None:
        self.port = _free_port()
        self.log_path = root / f"serve-{self.port}.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen([TONGBAN, "serve", "--bind", f"127.0.0.1:{self.port}"], env=env, cwd=ROOT,
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while self.get("/api/v1/health")[0] != 200:
            assert self.process.poll() is None, self.text()
            assert time.monotonic() < deadline, "tongban serve did not come up"
            time.sleep(0.2)

    def get(self, path: str, headers: dict | None = None) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", path, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.read()
        except OSError:
            return 0, b""
        finally:
            connection.close()

    def text(self) -> str:
        self.log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def processes(self) -> list[int]:
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                        if f"127.0.0.1:{self.port}".encode() in cmdline.read():
                            found.append(int(entry))
                except OSError:
                    continue
        return found

    def stop(self, sig: int = signal.SIGTERM, *, group: bool = True) -> float:
        began = time.monotonic()
        if group:
            os.killpg(self.process.pid, sig)
        else:
            self.process.send_signal(sig)
        try:
            self.process.wait(timeout=30)
        finally:
            self.log.close()
        return time.monotonic() - began

    def kill_all(self) -> None:
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="module")
def server(data_env):
    serve = Serve(*data_env)
    yield serve
    if serve.process.poll() is None:
        serve.stop()
    serve.kill_all()


def test_identifiers_in_paths_are_masked_in_the_log_and_queries_left_out(server):
    status, _ = server.get(f"/api/v1/exchange/resources/civil-00001/records/{ID_NUMBER}?name=%E5%BC%A0%E4%B8%89&phone={PHONE}")
    assert status == 401  # no token: the point here is the log line, not the answer
    server.get(f"/api/v1/no-such-page/{PHONE}")
    deadline = time.monotonic() + 5
    # Two requests, possibly two workers: wait for both lines, whichever is written first.
    while "/records/330106********0005" not in server.text() or "/no-such-page/" not in server.text():
        assert time.monotonic() < deadline, server.text()[-2000:]
        time.sleep(0.1)
    log = server.text()
    assert ID_NUMBER not in log and PHONE not in log
    assert "138****5678" in log
    assert '"GET /api/v1/exchange/resources/civil-00001/records/330106********0005" 401' in log
    assert "name=" not in log and "%E5%BC%A0" not in log


def test_large_request_headers_are_served(server):
    status, body = server.get("/api/v1/health", headers={"Cookie": "pref=" + "x" * 12_000})
    assert status == 200, body[:200]


def test_a_stop_to_the_process_group_ends_every_process_promptly(data_env, server):
    serve = Serve(*data_env)
    assert serve.get("/api/v1/health")[0] == 200
    assert len(serve.processes()) >= 3  # the master and two workers besides serve itself
    took = serve.stop(signal.SIGTERM)
    assert serve.process.returncode == 0, serve.text()[-2000:]
    assert took < 10
    assert serve.processes() == []
    assert not _port_open(serve.port)
    assert server.get("/api/v1/health")[0] == 200  # the other server is untouched


def test_a_killed_serve_leaves_no_server_behind(data_env):
    serve = Serve(*data_env)
    try:
        serve.stop(signal.SIGKILL, group=False)  # only `serve` itself: its uWSGI must follow
        deadline = time.monotonic() + 10
        while serve.processes() or _port_open(serve.port):
            assert time.monotonic() < deadline, f"left behind: {serve.processes()}"
            time.sleep(0.2)
    finally:
        serve.kill_all()


def test_expect_continue_is_answered_before_the_body(server):
    """curl asks first for any body over 1 MB: without the interim answer it waits a second."""
    body = b'{"username": "nobody", "password": "wrong"}'
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Expect: 100-continue\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        sock.settimeout(0.5)  # well under the second a client waits before sending anyway
        interim = sock.recv(64)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), interim
        sock.settimeout(10)
        sock.sendall(body)
        answer = interim[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.split(b" ", 2)[1] in (b"400", b"401", b"422"), answer[:200]  # the real answer follows


@pytest.mark.parametrize(("vendor", "cores", "expected"), [
    ("sqlite", 2, 2), ("sqlite", 1, 1), ("postgresql", 2, 4), ("postgresql", 1, 2), ("postgresql", 64, 16),
    ("sqlite", 64, 16),
])
def test_default_workers_by_database_and_cores(vendor, cores, expected):
    from tongban.core import serving

    assert serving.default_workers(vendor, cores) == expected


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--workers", "0"], {}, "must be at least 1"),
    ([], {"TONGBAN_WORKERS": "four"}, "TONGBAN_WORKERS"),
])
def test_a_worker_count_that_cannot_serve_is_refused_before_starting(monkeypatch, args, env, message):
    from django.core.management import CommandError, call_command

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(CommandError, match=message):
        call_command("serve", "--bind", "127.0.0.1:1", *args)

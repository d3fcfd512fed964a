"""How ``tongban serve`` runs the site: uWSGI (the ``pyuwsgi`` wheel) with sync worker processes.

Why uWSGI rather than gunicorn: on this 2-core machine a sync gunicorn worker spent ~1,000 µs of
CPU per request on the bare exchange fetch, of which Django was ~410 µs; the rest was gunicorn's
Python HTTP parsing, response writing and its RFC 9112 close, which holds the worker until the
client has closed its end. uWSGI does the HTTP work in C: same application, same two worker
processes, ~30 % less server CPU per request and ~30 % more exchange queries per second
(bench_exchange, alternating A/B rounds on one database; see the issue 6 note).

The master imports ``tongban.site.wsgi_worker`` (the application, settled, with every database
connection closed so that none is shared across the fork) and forks the workers from it: a worker
is ready at once, and a worker that dies is replaced at once. (Loading in each worker instead left
a window after start in which a worker still importing Django ignored a stop, holding the stop up
for the whole grace period.)

Logs: uWSGI writes its own lines (the access line, and messages that may quote a request's path,
e.g. on a write error or a timeout) from C, past Python's logging and its redacting filter. So
``serve`` stays the parent of uWSGI and passes every line uWSGI writes through
``logredact.redact`` on its way out: no ID number, credit code or phone number reaches a log.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from typing import IO

from tongban.core.logredact import redact

WSGI_MODULE = "tongban.site.wsgi_worker:application"
# Request line and headers together (gunicorn allowed a 4 KB line and 8 KB per header; uWSGI's
# default of 4 KB for everything refuses a browser with a few large cookies).
HEADER_BUFFER_BYTES = 32768
# Path only, as before: query strings may carry personal data; the parent masks identifiers.
ACCESS_LOG_FORMAT = '%(addr) "%(method) %(var.PATH_INFO)" %(status) %(size) %(msecs)ms'


MAX_DEFAULT_WORKERS = 16


def default_workers(vendor: str, cores: int | None = None) -> int:
    """Sync worker processes when neither ``--workers`` nor ``TONGBAN_WORKERS`` says.

    SQLite: one per core. The requests are CPU-bound and a third worker on two cores only added
    switching (bench_exchange: query 2,900 → 2,700 req/s, bare fetch 5,000 → 4,900).
    PostgreSQL: two per core. A consuming request waits for its commit's WAL flush, a core left
    idle unless another worker is ready to run (2 → 4 workers: query 1,560 → 1,750 req/s, bare
    fetch 3,070 → 2,940). Capped at ``MAX_DEFAULT_WORKERS``: each holds a database connection.
    """
    if cores is None:
        cores = len(os.sched_getaffinity(0))
    per_core = 2 if vendor == "postgresql" else 1
    return max(1, min(MAX_DEFAULT_WORKERS, cores * per_core))


def listen_backlog() -> int:
    """Pending connections the socket may hold; uWSGI refuses to start above the kernel's cap."""
    try:
        with open("/proc/sys/net/core/somaxconn") as cap:
            return max(16, min(1024, int(cap.read().strip())))
    except (OSError, ValueError):
        return 128


def uwsgi_options(*, bind: str, workers: int, timeout: int) -> list[str]:
    return [
        "--strict",  # an option uWSGI does not know is an error, not silently ignored
        "--master",  # respawns a worker that dies; shuts the others down cleanly
        "--http-socket", bind,
        "--processes", str(workers),
        "--module", WSGI_MODULE,
        "--need-app",  # exit if the application cannot be imported, rather than serve 500s
        "--single-interpreter",
        "--enable-threads",  # Python threads run at all (uWSGI leaves them off otherwise)
        "--thunder-lock",  # one worker at a time waits in accept(): no thundering herd
        # SIGTERM stops, letting requests in flight finish (uWSGI 2.0 would reload on it otherwise).
        "--die-on-term",
        "--harakiri", str(timeout),  # a request running longer than this has its worker recycled
        "--buffer-size", str(HEADER_BUFFER_BYTES),
        "--listen", str(listen_backlog()),
        "--log-format", ACCESS_LOG_FORMAT,
        "--ignore-sigpipe", "--ignore-write-errors", "--disable-write-exception",  # a client gone is no error
        "--hook-master-start", "unix_signal:15 gracefully_kill_them_all",
        "--worker-reload-mercy", str(timeout),  # how long a graceful stop waits for those requests
    ]


def answering_expect_continue(application, send):
    """The WSGI application, answering ``Expect: 100-continue`` before the body is read.

    uWSGI's http-socket does not (gunicorn did): clients that ask first — curl for any body over
    1 MB — would otherwise wait a second before sending. ``send`` writes raw bytes to the client
    (``uwsgi.send``). RFC 9110 lets the final answer follow the interim one whatever it is."""
    def with_continue(environ, start_response):
        if (environ.get("HTTP_EXPECT", "").lower() == "100-continue"
                and environ.get("SERVER_PROTOCOL") == "HTTP/1.1"):
            send(b"HTTP/1.1 100 Continue\r\n\r\n")
        return application(environ, start_response)

    return with_continue


def die_with_parent() -> None:
    """Be killed the moment the parent process dies, however it dies. Set in the uWSGI master
    (its parent is ``serve``) and in each worker after the fork (its parent is the master): a
    killed ``serve`` must not leave a server behind holding the port or finishing requests."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


PR_SET_PDEATHSIG = 1


def run(*, bind: str, workers: int, timeout: int, out: IO[str] | None = None) -> int:
    """Run uWSGI until it exits (SIGTERM or SIGINT to ``serve`` stops it); returns its exit code."""
    out = out or sys.stdout
    command = [sys.executable, "-c", "import sys, pyuwsgi; sys.exit(pyuwsgi.run())",
               *uwsgi_options(bind=bind, workers=workers, timeout=timeout)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,  # noqa: S603 - our own argv
                             text=True, encoding="utf-8", errors="replace", bufsize=1,
                             preexec_fn=die_with_parent)

    def forward(signum, _frame) -> None:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM if signum in (signal.SIGTERM, signal.SIGINT) else signum)

    previous = {number: signal.signal(number, forward) for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        assert child.stdout is not None
        for line in child.stdout:  # until uWSGI (and every worker, which shares the pipe) is gone
            out.write(redact(line))
            out.flush()
        return child.wait()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if child.poll() is None:
            child.kill()
            child.wait()

"""``tongban serve``: the production WSGI server (uWSGI, see ``core.serving``), never Django's runserver."""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from tongban.core import serving


class Command(BaseCommand):
    help = "Serve tongban with uWSGI. / 以生产服务器运行平台"

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("TONGBAN_BIND", "127.0.0.1:8000"),
                            help="address:port to listen on (default 127.0.0.1:8000)")
        parser.add_argument("--workers", type=int, default=None,
                            help="sync worker processes (default: TONGBAN_WORKERS, else one per core on SQLite "
                                 "and two per core on PostgreSQL, at most 16)")
        parser.add_argument("--timeout", type=int, default=60,
                            help="seconds a request may run before its worker is recycled (default 60)")

    def handle(self, *args, bind, workers, timeout, **options):
        if workers is None:
            configured = os.environ.get("TONGBAN_WORKERS", "").strip()
            if not configured:
                workers = serving.default_workers(connection.vendor)
            elif configured.isdigit():
                workers = int(configured)
            else:
                raise CommandError(f"TONGBAN_WORKERS 应为正整数（现为 {configured[:20]!r}）/ "
                                   f"must be a positive integer (is {configured[:20]!r})")
        if workers < 1:
            raise CommandError("工作进程数至少为 1 / --workers must be at least 1")
        self.stdout.write(f"tongban 服务启动 / serving on http://{bind} ({workers} workers)")
        self.stdout.flush()
        code = serving.run(bind=bind, workers=workers, timeout=timeout)
        if code:
            raise SystemExit(code)

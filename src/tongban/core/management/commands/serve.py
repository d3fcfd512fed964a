"""``tongban serve``: the production WSGI server (uWSGI, see ``core.serving``), never Django's runserver."""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand

from tongban.core import serving


class Command(BaseCommand):
    help = "Serve tongban with uWSGI. / 以生产服务器运行平台"

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("TONGBAN_BIND", "127.0.0.1:8000"),
                            help="address:port to listen on (default 127.0.0.1:8000)")
        # Two sync workers saturate two cores (LIMITS.md: four were no better).
        parser.add_argument("--workers", type=int, default=int(os.environ.get("TONGBAN_WORKERS", "2")))
        parser.add_argument("--timeout", type=int, default=60,
                            help="seconds a request may run before its worker is recycled (default 60)")

    def handle(self, *args, bind, workers, timeout, **options):
        self.stdout.write(f"tongban 服务启动 / serving on http://{bind} ({workers} workers)")
        self.stdout.flush()
        code = serving.run(bind=bind, workers=workers, timeout=timeout)
        if code:
            raise SystemExit(code)

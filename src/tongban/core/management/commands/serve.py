"""``tongban serve``: the production WSGI server (gunicorn), never Django's runserver."""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand
from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):  # in each worker (no preload): settle it before it accepts a request
        from tongban.core.runtime import settle_worker
        from tongban.site.wsgi import application

        settle_worker()
        return application


class Command(BaseCommand):
    help = "Serve tongban with gunicorn. / 以生产服务器运行平台"

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("TONGBAN_BIND", "127.0.0.1:8000"),
                            help="address:port to listen on (default 127.0.0.1:8000)")
        # Two sync workers saturate two cores (LIMITS.md: four were no better).
        parser.add_argument("--workers", type=int, default=int(os.environ.get("TONGBAN_WORKERS", "2")))
        parser.add_argument("--timeout", type=int, default=60)

    def handle(self, *args, bind, workers, timeout, **options):
        self.stdout.write(f"tongban 服务启动 / serving on http://{bind} ({workers} workers)")
        _Gunicorn({
            "bind": bind,
            "workers": workers,
            "timeout": timeout,
            "accesslog": "-",
            # Access logs name the path only: query strings may carry identifiers.
            "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms',
            "errorlog": "-",
            "logger_class": "tongban.core.logredact.RedactingGunicornLogger",
        }).run()

"""The WSGI application as ``tongban serve`` loads it (see ``core.serving``): imported once in the
server's master process, settled (``core.runtime``), and then forked into the workers."""

from django.db import connections

from tongban.core.runtime import settle_worker
from tongban.core.serving import answering_expect_continue, die_with_parent
from tongban.site.wsgi import application

settle_worker()
# Nothing opened here may be shared by the forked workers: each opens its own connection.
connections.close_all()

try:
    import uwsgi  # only inside the uWSGI server

    uwsgi.post_fork_hook = die_with_parent
    application = answering_expect_continue(application, uwsgi.send)
except ImportError:
    pass

__all__ = ["application"]

"""Huey finds tasks in each app's ``tasks`` module (``tongban worker`` autodiscovers them): the
exchange's are defined beside the use cases they run and imported here."""

from tongban.exchange.services.requests import sweep_overdue_requests  # noqa: F401
from tongban.exchange.services.webhooks import deliver_task, retry_task  # noqa: F401

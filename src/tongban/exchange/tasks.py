"""Huey finds periodic tasks in each app's ``tasks`` module: the exchange's are defined beside
the use cases they run and imported here."""

from tongban.exchange.services.requests import sweep_overdue_requests  # noqa: F401

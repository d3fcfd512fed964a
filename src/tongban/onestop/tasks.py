"""Huey finds periodic tasks in each app's ``tasks`` module: the one-stop sweeps are defined
beside the use cases they run and imported here."""

from tongban.onestop.services.ratings import sweep_default_ratings  # noqa: F401
from tongban.onestop.services.window import sweep_overdue_applications  # noqa: F401

"""Huey finds tasks in each app's ``tasks`` module: the bulk match job is defined beside its use case."""

from tongban.policies.services.matching import match_task  # noqa: F401

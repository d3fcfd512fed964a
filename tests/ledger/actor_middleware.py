"""Stands in for identity's middleware in tests: puts an actor with roles on the request."""

from __future__ import annotations

from types import SimpleNamespace


class TestActorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        roles = request.headers.get("X-Test-Roles")
        if roles is not None:
            request.actor = SimpleNamespace(roles=frozenset(filter(None, roles.split(","))))
        return self.get_response(request)

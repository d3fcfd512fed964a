"""django-axes for the pages only: the API answers a lockout itself, in the JSON envelope
(code ``account_locked``), so axes must not replace that answer with its HTML page."""

from axes.middleware import AxesMiddleware
from django.utils.functional import SimpleLazyObject

from tongban.identity.access import ANONYMOUS, Actor, actor_for_user
from tongban.identity.decorators import needs_second_factor
from tongban.identity.tokens import actor_for_bearer


class PageAxesMiddleware(AxesMiddleware):
    def __call__(self, request):
        if request.path.startswith("/api/"):
            return self.get_response(request)
        return super().__call__(request)


class ActorMiddleware:
    """Puts the caller on ``request.actor`` for operations open to everyone (``auth=None``),
    where a caller who does identify themselves may see more — e.g. an auditor reading full
    ledger entries. Resolved lazily: a request that never asks pays nothing, and operations
    that require auth overwrite it with the actor their authentication found."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.actor = SimpleLazyObject(lambda: _resolve_actor(request))
        return self.get_response(request)


def _resolve_actor(request) -> Actor:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return actor_for_bearer(header[7:].strip()) or ANONYMOUS
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and not needs_second_factor(request):
        return actor_for_user(user)
    return ANONYMOUS

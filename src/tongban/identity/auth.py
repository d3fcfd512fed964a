"""How the API learns who is calling: a bearer token (user or department system) or, for the
site's own pages calling the API, the Django session (with CSRF). Both yield an ``Actor``."""

from __future__ import annotations

from django.conf import settings
from ninja.security import APIKeyCookie, HttpBearer

from tongban.identity.access import actor_for_user
from tongban.identity.decorators import needs_second_factor
from tongban.identity.tokens import actor_for_bearer, cached_actor_for_bearer


class BearerAuth(HttpBearer):
    def authenticate(self, request, token):
        actor = actor_for_bearer(token)
        if actor is not None:
            request.actor = actor
        return actor


class SessionActorAuth(APIKeyCookie):
    param_name = settings.SESSION_COOKIE_NAME

    def authenticate(self, request, key):
        user = request.user
        if not user.is_authenticated:
            return None
        # A session that has not passed TOTP where the role requires it is not a login.
        if needs_second_factor(request):
            return None
        actor = actor_for_user(user)
        request.actor = actor
        return actor


class CachedBearerAuth(HttpBearer):
    """Bearer auth from the per-process token cache, for hot paths that check the access
    generation themselves in the same request (see ``tokens.cached_actor_for_bearer``)."""

    def __call__(self, request):
        # The header straight from META: building request.headers costs more than the lookup.
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if header[:7].lower() != "bearer ":
            return None
        return self.authenticate(request, header[7:].strip())

    def authenticate(self, request, token):
        actor = cached_actor_for_bearer(token)
        if actor is not None:
            request.actor = actor
        return actor


api_auth = [BearerAuth(), SessionActorAuth()]
# Only for operations that pass the generation they read to ``tokens.observe_generation``.
hot_path_auth = [CachedBearerAuth(), SessionActorAuth()]

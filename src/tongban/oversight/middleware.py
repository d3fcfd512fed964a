"""Keeps the API's refusals (403) and rate limits (429) as ``SecurityEvent`` rows for the
detection rules of security monitoring (``oversight.services.detection``).

Cheap: every other response passes with one comparison. It sits outside
``ApiErrorEnvelopeMiddleware`` so it reads the error code from the JSON envelope even when
Django made the refusal (a CSRF failure). The caller is the actor the API's authentication found
(``request.auth``) or the one ``ActorMiddleware`` resolves from the request. Paths are stored
with identifiers masked (a refused query names the subject in its path).

A flood of refusals must not become a flood of writes: each process records at most
``PER_CALLER_PER_MINUTE`` events per caller and minute (the rules need far fewer).
"""

from __future__ import annotations

import json
import logging
import threading
import time

from django.db import transaction
from django.utils import timezone

from tongban.core.logredact import redact

logger = logging.getLogger("tongban.security")

API_PREFIX = "/api/"
KINDS = {403: "forbidden", 429: "rate_limited"}
PER_CALLER_PER_MINUTE = 60
_recent: dict[tuple[str, int], int] = {}  # (caller, minute) → events recorded by this process
_recent_lock = threading.Lock()


def _caller(request) -> tuple[str, str]:
    actor = getattr(request, "auth", None)
    if actor is None or not hasattr(actor, "username"):
        actor = getattr(request, "actor", None)
    try:
        if actor is not None and actor.is_authenticated:
            return actor.username[:150], (actor.department_code or "")[:64]
    except Exception:  # noqa: BLE001 - resolving a lazy actor must never break the response
        logger.exception("security event: could not resolve the caller")
    return "", ""


def _code(response) -> str:
    if response.streaming or not response.get("Content-Type", "").startswith("application/json"):
        return ""
    try:
        return str(json.loads(response.content)["error"]["code"])[:40]
    except (ValueError, KeyError, TypeError):
        return ""


def _allowed(caller: str) -> bool:
    minute = int(time.time() // 60)
    with _recent_lock:  # threads of one worker share the counter
        if len(_recent) > 10_000:
            for key in [key for key in _recent if key[1] < minute]:
                del _recent[key]
        count = _recent.get((caller, minute), 0)
        if count >= PER_CALLER_PER_MINUTE:
            return False
        _recent[(caller, minute)] = count + 1
    return True


class SecurityEventMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        kind = KINDS.get(response.status_code)
        if kind is not None and request.path.startswith(API_PREFIX):
            self.record(request, response, kind)
        return response

    @staticmethod
    def record(request, response, kind: str) -> None:
        from tongban.oversight.models import SecurityEvent

        try:
            actor, department = _caller(request)
            if not _allowed(actor):
                return
            # A savepoint: a failed write never poisons a transaction the request may still hold.
            with transaction.atomic():
                SecurityEvent.objects.create(at=timezone.now(), kind=kind, code=_code(response), actor=actor,
                                             department_code=department, method=request.method[:8],
                                             path=redact(request.path)[:300])
        except Exception:  # noqa: BLE001 - monitoring must never turn a refusal into a crash
            logger.exception("security event not recorded for %s %s", request.method, redact(request.path))

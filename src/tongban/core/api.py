"""Error handling shared by every router of the API (mounted in ``tongban.site.api``)."""

from __future__ import annotations

import logging

from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from tongban.core.errors import DomainError, InvalidInput, NotAuthenticated, NotFound
from tongban.core.http import error_response, status_error

logger = logging.getLogger("tongban.api")


def _validation_details(errors: list[dict]) -> list[dict]:
    """Pydantic's errors, reduced to what a caller needs to fix the input (no echo of values)."""
    details = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ())]
        details.append({"location": location, "type": error.get("type"), "message": error.get("msg")})
    return details


def install_error_handlers(api: NinjaAPI) -> None:
    @api.exception_handler(DomainError)
    def domain_error(request, exc: DomainError):
        return error_response(exc)

    @api.exception_handler(ValidationError)
    def validation_error(request, exc: ValidationError):
        return error_response(InvalidInput(details=_validation_details(exc.errors)))

    @api.exception_handler(AuthenticationError)
    def authentication_error(request, exc: AuthenticationError):
        return error_response(NotAuthenticated())

    @api.exception_handler(Http404)
    def not_found(request, exc: Http404):
        return error_response(NotFound())

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        return error_response(status_error(exc.status_code))

    @api.exception_handler(Exception)
    def unexpected(request, exc: Exception):
        # Logged with the traceback for operators; the caller learns nothing internal.
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(status_error(500))

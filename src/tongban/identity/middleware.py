"""django-axes for the pages only: the API answers a lockout itself, in the JSON envelope
(code ``account_locked``), so axes must not replace that answer with its HTML page."""

from axes.middleware import AxesMiddleware


class PageAxesMiddleware(AxesMiddleware):
    def __call__(self, request):
        if request.path.startswith("/api/"):
            return self.get_response(request)
        return super().__call__(request)

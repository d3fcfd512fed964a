"""A URLconf for exercising the error envelope with routes that fail on purpose."""

from django.urls import include, path
from ninja import NinjaAPI, Schema

from tongban.core.api import install_error_handlers
from tongban.core.errors import Conflict

api = NinjaAPI(urls_namespace="errors-api")
install_error_handlers(api)


class Payload(Schema):
    count: int


@api.post("/conflict")
def conflict(request):
    raise Conflict("申请已处理", "The request was already decided", details={"state": "approved"})


@api.post("/validate")
def validate(request, payload: Payload):
    return {"count": payload.count}


@api.get("/crash")
def crash(request):
    raise RuntimeError("secret internal detail 11010519491231002X")


def plain_crash(request):
    raise RuntimeError("crash outside ninja")


urlpatterns = [
    path("api/v1/", api.urls),
    path("api/raw-crash", plain_crash),
    path("", include("tongban.site.urls")),
]

"""Self-service reads (本人办事): a department's service reading the applicant's OWN record to
prefill an application (一网通办 免证办 / 免填报), with the applicant's consent implied by the
application they started.

The data are the person's own and go back to that person's application, but a department may
bind (and read) another department's resource only as far as an ACTIVE grant of the exchange lets
it query those items (``binding_allowed``; never a 不予共享 resource of another department); its
own resources are always fine. The same check runs when a service item is saved or published and
again at every read: a read that is no longer allowed returns ``None`` and is not logged. The read
is an access like any other: one ``Access`` row (``grant`` empty, ``mode``
``prefill``, the implementing department as consumer, the subject by keyed hash only), which
``sealing`` turns into an ``exchange.access`` ledger entry and which the person sees in "my
data" (``mydata.my_accesses``). Runs in the caller's transaction (the one-stop service holds it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from tongban.catalog.models import Resource
from tongban.core.errors import InvalidInput
from tongban.exchange.models import Access, Grant, Record
from tongban.identity.access import Actor
from tongban.identity.models import Department
from tongban.ledger import services as ledger

MODE = "prefill"
DEFAULT_PURPOSE = "本人办事 self-service"
MAX_ITEMS = 200


def _active_grants(department_id: int, resource_code: str):
    now = timezone.now()
    return Grant.objects.filter(consumer_id=department_id, resource_code=resource_code, status=Grant.Status.ACTIVE,
                                starts_at__lte=now, expires_at__gt=now)


def binding_allowed(department_id: int | None, resource: Resource | None, items: Iterable[str]) -> bool:
    """May ``department_id`` bind (prefill from) ``items`` of ``resource``? Its own resource: yes;
    another department's 不予共享 resource: never; otherwise only when its active grants with the
    ``query`` mode cover every item. Read-only."""
    if department_id is None or resource is None:
        return False
    if resource.department_id == department_id:
        return True
    if resource.sharing == Resource.Sharing.NO_SHARE:
        return False
    granted: set[str] = set()
    for keys, modes in _active_grants(department_id, resource.code).values_list("items", "modes"):
        if "query" in (modes or []):
            granted.update(keys or [])
    return set(items) <= granted


def clear_items(department_id: int | None, resource: Resource | None) -> set[str] | None:
    """The items of ``resource`` that ``department_id``'s officials see in clear: ``None`` (all) for
    its own resource, else the ``clear_items`` of its active query grants (possibly empty)."""
    if resource is not None and department_id is not None and resource.department_id == department_id:
        return None
    if resource is None or department_id is None:
        return set()
    cleared: set[str] = set()
    for keys, modes in _active_grants(department_id, resource.code).values_list("clear_items", "modes"):
        if "query" in (modes or []):
            cleared.update(keys or [])
    return cleared


def published_resource(code: str) -> Resource | None:
    return Resource.objects.filter(code=code, status=Resource.Status.PUBLISHED).first()


def fetch_own(actor: Actor, subject: str, resource_code: str, items: Iterable[str], *,
              purpose: str = DEFAULT_PURPOSE, department_code: str) -> dict[str, Any] | None:
    """The requested ``items`` of ``subject``'s record in ``resource_code`` (only those the record
    has), or ``None`` when there is no record (the access is logged) or when the implementing
    department may not bind those items (``binding_allowed``: nothing is read or logged).

    ``actor``: the applicant (or the service acting for them); ``department_code``: the
    implementing department, recorded as the consumer. The caller guarantees that ``subject`` is
    the applicant's own identifier (the one-stop service takes it from their account).
    """
    wanted = list(dict.fromkeys(str(i) for i in items))
    if not subject or not resource_code or not department_code or len(wanted) > MAX_ITEMS:
        raise InvalidInput("本人数据读取参数无效", "Invalid self-service read", code="invalid_self_service")
    department_id = Department.objects.filter(code=department_code).values_list("pk", flat=True).first()
    if not binding_allowed(department_id, published_resource(resource_code), wanted):
        return None
    data = Record.objects.filter(resource_code=resource_code, subject=subject).values_list("data", flat=True).first()
    Access.objects.create(
        at=timezone.now(), grant=None, resource_code=resource_code, consumer_code=department_code,
        actor=(actor.username or actor.kind)[:150], mode=MODE, items=wanted, purpose=(purpose or DEFAULT_PURPOSE)[:500],
        subject_hash=ledger.subject_hash(subject), subject_count=1, found=0 if data is None else 1)
    if data is None:
        return None
    return {key: data[key] for key in wanted if key in data}

"""Self-service reads (本人办事): a department's service reading the applicant's OWN record to
prefill an application (一网通办 免证办 / 免填报), with the applicant's consent implied by the
application they started.

No grant is involved — the data are the person's own and go back to that person's application —
but the read is an access like any other: one ``Access`` row (``grant`` empty, ``mode``
``prefill``, the implementing department as consumer, the subject by keyed hash only), which
``sealing`` turns into an ``exchange.access`` ledger entry and which the person sees in "my
data" (``mydata.my_accesses``). Runs in the caller's transaction (the one-stop service holds it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from tongban.core.errors import InvalidInput
from tongban.exchange.models import Access, Record
from tongban.identity.access import Actor
from tongban.ledger import services as ledger

MODE = "prefill"
DEFAULT_PURPOSE = "本人办事 self-service"
MAX_ITEMS = 200


def fetch_own(actor: Actor, subject: str, resource_code: str, items: Iterable[str], *,
              purpose: str = DEFAULT_PURPOSE, department_code: str) -> dict[str, Any] | None:
    """The requested ``items`` of ``subject``'s record in ``resource_code`` (only those the record
    has), or ``None`` when there is no record; the access is logged either way.

    ``actor``: the applicant (or the service acting for them); ``department_code``: the
    implementing department, recorded as the consumer. The caller guarantees that ``subject`` is
    the applicant's own identifier (the one-stop service takes it from their account).
    """
    wanted = list(dict.fromkeys(str(i) for i in items))
    if not subject or not resource_code or not department_code or len(wanted) > MAX_ITEMS:
        raise InvalidInput("本人数据读取参数无效", "Invalid self-service read", code="invalid_self_service")
    data = Record.objects.filter(resource_code=resource_code, subject=subject).values_list("data", flat=True).first()
    Access.objects.create(
        at=timezone.now(), grant=None, resource_code=resource_code, consumer_code=department_code,
        actor=(actor.username or actor.kind)[:150], mode=MODE, items=wanted, purpose=(purpose or DEFAULT_PURPOSE)[:500],
        subject_hash=ledger.subject_hash(subject), subject_count=1, found=0 if data is None else 1)
    if data is None:
        return None
    return {key: data[key] for key in wanted if key in data}

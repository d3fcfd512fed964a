"""Helpers of the API fuzz (``test_api_fuzz.py``): a small realistic world to fuzz against, the
callers (roles) and their bearer tokens, real identifiers for path parameters, hostile values,
WSGI calls inside the test's transaction, and the error-envelope check.

The world is built once per test module inside an outer transaction (rolled back at the end);
every fuzzed call runs in a savepoint that is rolled back after it, so each example starts from
the same state and a call that aborts the transaction on PostgreSQL cannot poison the next one.
"""

from __future__ import annotations

import datetime
import importlib
import json
import logging
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import Client
from django.utils import timezone
from hypothesis import strategies as st

from tests.exchange import factories as xf
from tests.exchange.factories_requests import approved_grant, pending_request
from tests.identity.factories import make_department
from tests.onestop import factories as of
from tests.onestop import factories_apps as af
from tests.onestop import factories_ratings as rf
from tests.policies import factories as pf
from tongban.core.models import Job
from tongban.credentials.models import StatusListRow
from tongban.identity import tokens
from tongban.ledger import services as ledger_services
from tongban.onestop.models import Application, RectificationTicket, ReviewTask
from tongban.oversight.models import Alert

ROLES = ("anonymous", "citizen", "official", "bureau", "system")


@dataclass
class World:
    tokens: dict[str, str | None] = field(default_factory=dict)
    # (path-template prefix, parameter name) -> a real value; see ``known_path_parameters``.
    values: dict[str, object] = field(default_factory=dict)


def build_world() -> World:
    """A province in miniature: the civil-affairs department publishes a person resource with a
    citizen's record, grants the health department query/verify under an approved request, runs a
    service item (with an application in review, a completed and badly rated one), issues a
    marriage certificate to the citizen; the human-resources department has a published policy;
    the bureau has an open security alert."""
    world = World()
    citizen_user, citizen = of.citizen_applicant("张三", username="fuzz-citizen")
    official = of.official_user("civil", "steward", "approver", "clerk", "dept_admin", username="fuzz-official")
    bureau = of.bureau_admin(username="fuzz-bureau")

    resource = af.catalog_resource(af.CIVIL, "civil")
    af.marriage_record(citizen)
    open_resource = xf.enterprise_resource("market")
    pf.record(open_resource.code, xf.uscc(1), xf.enterprise_row(1))
    grant = approved_grant("civil", "health", resource=resource, items=["name", "marital_status"])
    pending = pending_request("civil", "health")
    health_steward = xf.official("health", "steward")
    with transaction.atomic():
        system = tokens.create_system_token(
            health_steward, name="fuzz system", expires_in_days=30,
            scopes=["catalog:read", "exchange:query", "exchange:verify", "exchange:subscribe",
                    "credentials:verify", "onestop:applications"])

    item = of.service_item("civil", co_departments=("health",))
    in_review, _ = af.under_review(item, citizen_user, clerk_user=official)
    task = ReviewTask.objects.filter(application=in_review).first()
    finished = rf.application(item, citizen_user, status=Application.Status.COMPLETED)
    rf.rated(finished, level=1, comment="太慢了")

    of.make_certificate_type("marriage_certificate", "civil", fields=[
        {"key": "spouse_name", "name": "配偶姓名", "data_element": "DE00002", "required": True}])
    credential = af.credential(citizen, "marriage_certificate", {"spouse_name": "林晓燕"})

    policy = pf.policy("hr")
    job = Job.objects.create(id=uuid.uuid4(), kind="fuzz", status=Job.Status.SUCCEEDED, done=1, total=1,
                             result={"matched": 0}, created_by=official.username, department="civil",
                             finished_at=timezone.now())
    now = timezone.now()
    alert = Alert.objects.create(rule="fuzz", severity="high", department=make_department("health"),
                                 title_zh="测试预警", title_en="Test alert", dedup_key="fuzz-alert",
                                 first_seen=now - datetime.timedelta(hours=1), last_seen=now)

    # The health system reads the citizen's record (an access the citizen sees in "my data"); the
    # ledger integrates what the world recorded and signs a checkpoint.
    read = Client().get(f"/api/v1/exchange/resources/{resource.code}/records/{citizen.id_number}",
                        HTTP_AUTHORIZATION=f"Bearer {system.key}")
    assert read.status_code == 200, read.content
    ledger_services.integrate()

    with transaction.atomic():
        world.tokens = {
            "anonymous": None,
            "citizen": tokens.issue_user_token(citizen_user).key,
            "official": tokens.issue_user_token(official).key,
            "bureau": tokens.issue_user_token(bureau).key,
            "system": system.key,
        }
    ticket = RectificationTicket.objects.first()
    world.values = {
        "resource_code": resource.code,
        "open_code": open_resource.code,
        "token_id": system.token.pk,
        "subject": citizen.id_number,
        "item_code": item.code,
        "number": in_review.number,
        "finished_number": finished.number,
        "task_id": task.pk if task else 1,
        "ticket_id": ticket.pk if ticket else 1,
        "request_id": str(pending.pk),
        "grant_id": str(grant.pk),
        "credential_id": str(credential.pk),
        "policy_id": str(policy.pk),
        "alert_id": alert.pk,
        "username": official.username,
        "ledger_size": ledger_services.tree_size(),
        "list_id": StatusListRow.objects.values_list("list_id", flat=True).first() or 0,
        "job_id": str(job.pk),
    }
    return world


def known_path_parameters(path: str, world: World) -> dict[str, object]:
    """Real values for the path parameters of ``path`` (an OpenAPI path template)."""
    v = world.values
    by_name = {
        "request_id": v["request_id"], "grant_id": v["grant_id"], "credential_id": v["credential_id"],
        "policy_id": v["policy_id"], "alert_id": v["alert_id"], "username": v["username"],
        "number": v["number"], "task_id": v["task_id"], "ticket_id": v["ticket_id"], "subject": v["subject"],
        "index": 0, "token_id": v["token_id"], "purpose": "revocation", "list_id": v["list_id"],
        "job_id": v["job_id"], "identifier": "DE00002", "region": "440000", "upload_id": 1,
    }
    if path.endswith("/rating"):
        by_name["number"] = v["finished_number"]
    if "{code}" in path:
        by_name["code"] = (v["item_code"] if path.startswith("/api/v1/onestop/")
                           else v["open_code"] if path.startswith("/api/v1/open-data/") else v["resource_code"])
    names = [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]
    if not all(name in by_name for name in names):
        return {}
    return {name: by_name[name] for name in names}


@contextmanager
def connections_kept_open():
    """Django closes "old" connections when a request starts and finishes; inside a test's
    transaction that would end the transaction. Django's test client disconnects the same
    handler; this does it for the WSGI calls the fuzzer makes."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def error_envelope(ctx, response, case):
    """Every 4xx/5xx answer of the API is the JSON envelope {"error": {"code", "message", ...}}."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    assert content_type.startswith("application/json"), f"error answered as {content_type!r}"
    body = json.loads(response.content)
    assert isinstance(body, dict) and set(body) == {"error"}, f"not the error envelope: {body!r}"
    error = body["error"]
    assert isinstance(error, dict), f"not the error envelope: {body!r}"
    assert isinstance(error.get("code"), str) and error["code"], f"no error code: {body!r}"
    assert isinstance(error.get("message"), str) and error["message"], f"no error message: {body!r}"
    assert "details" in error, f"no details: {body!r}"
    messages = error.get("messages")
    assert isinstance(messages, dict) and messages.get("zh-hans") and messages.get("en"), \
        f"no Chinese and English messages: {body!r}"
    return None


def clear_process_caches() -> None:
    """Per-process caches remember rows by id; after a rolled-back call they may name rows that
    no longer exist (the suite's conftest clears them between tests for the same reason)."""
    from tongban.exchange.services import authz, sealing

    authz.clear_caches()
    tokens.clear_cache()
    sealing._last_round.clear()


class _Crashes(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.records: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record):
        if record.exc_info:
            self.records.append(self.format(record))


@contextmanager
def crashes_logged():
    """The tracebacks the API logs for unhandled errors (it answers them with a bare 500)."""
    handler = _Crashes()
    logger = logging.getLogger("tongban.api")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


# --- hostile values --------------------------------------------------------------------------------------------
# Random generation seldom hits the values that break code (a handful of examples per operation),
# so about half the calls get one value of a class that has broken APIs before, in one place of
# the request: an integer past the range of any database column or offset, text with NUL or an
# unpaired surrogate (the body only: a URL cannot carry one), far-away dates, odd Unicode.
HOSTILE_INTEGERS = [2**63, 2**70, -(2**63) - 1, -(2**70)]
HOSTILE_TEXT = ["", " \u3000", "a\x00b", "\x00", "9999-12-31", "0001-01-01", "10000-01-01", "2024-02-30", "\u202e\u0627\ufeff",
                "\U00020000" * 3, " ", "1e400", "NaN", "-0"]
HOSTILE_BODY_TEXT = [*HOSTILE_TEXT, "\ud800", "x\udfff"]


def _is_integer(schema: dict) -> bool:
    return schema.get("type") == "integer" or any(_is_integer(alternative) for alternative in schema.get("anyOf", ()))


def _slots(case) -> list[tuple[dict | list, str | int, str]]:
    """Where a value can be replaced: (container, key, kind) for each declared query and path
    parameter (present in the case or not) and each field of the body down to two levels; kind:
    "integer", "text" (in the URL) or "body"."""
    slots: list[tuple[dict | list, str | int, str]] = []
    for declared, container in ((case.operation.query, case.query), (case.operation.path_parameters,
                                                                     case.path_parameters)):
        if not isinstance(container, dict):
            continue
        for parameter in declared:
            kind = "integer" if _is_integer(parameter.definition.get("schema", {})) else "text"
            slots.append((container, parameter.name, kind))
    stack = [(case.body, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            keys = list(node)
        elif isinstance(node, list):
            keys = list(range(len(node)))
        else:
            continue
        for key in keys:
            slots.append((node, key, "body"))
            if depth < 2:
                stack.append((node[key], depth + 1))
    return slots


def inject_hostile(case, draw) -> str | None:
    """Replace (or add) one value of ``case`` by a hostile one, drawn with ``draw``; say which."""
    slots = _slots(case)
    if not slots:
        return None
    container, key, kind = draw(st.sampled_from(slots))
    current = container.get(key) if isinstance(container, dict) else container[key]
    json_body = kind == "body" and (case.media_type or "").endswith("json")
    if kind == "integer":
        container[key] = str(draw(st.sampled_from(HOSTILE_INTEGERS)))
    elif kind == "body" and isinstance(current, int | float) and not isinstance(current, bool):
        container[key] = draw(st.sampled_from(HOSTILE_INTEGERS))
    else:  # only JSON can carry an unpaired surrogate (as an escape); a form part or a URL cannot
        container[key] = draw(st.sampled_from(HOSTILE_BODY_TEXT if json_body else HOSTILE_TEXT))
    return f"hostile value at {key!r}: {container[key]!r}"


# --- keeping schemathesis to this module ---------------------------------------------------------------------------
# Schemathesis patches Hypothesis process-wide the first time it builds a strategy: no repr of the
# failing example in reports, a bigger buffer (other examples drawn). The suite's property tests
# share the worker processes, so Hypothesis is put back as it was once the fuzz is done. (Its pytest
# plugin, which would patch at start-up, is disabled: `-p no:schemathesis` in pyproject.toml.)
_PATCHED = [("hypothesis.internal.entropy", "register_random"),
            ("hypothesis.strategies._internal.core", "is_first_param_referenced_in_function"),
            ("hypothesis.core", "RepresentationPrinter"), ("hypothesis.core", "BUFFER_SIZE"),
            ("hypothesis.internal.conjecture.engine", "BUFFER_SIZE"),
            ("hypothesis.strategies._internal.collections", "BUFFER_SIZE")]


@contextmanager
def hypothesis_restored_afterwards():
    from schemathesis.generation.hypothesis import setup

    if getattr(setup, "_is_patched", False):  # patched before us: the originals are unknown
        yield
        return
    originals = [(importlib.import_module(module), name) for module, name in _PATCHED]
    originals = [(module, name, getattr(module, name)) for module, name in originals]
    try:
        yield
    finally:
        for module, name, value in originals:
            setattr(module, name, value)
        setup._is_patched = False

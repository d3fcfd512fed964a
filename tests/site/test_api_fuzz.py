"""API fuzzing: schemathesis generates requests for every operation of /api/v1/openapi.json and
sends them to the Django application in-process, as several callers. Every answer must be no
server error, match the schema the operation declares, and — when it is an error — be the
error envelope {"error": {"code", "message", "messages", "details"}}."""

from __future__ import annotations

import json
import os
import zlib

import pytest
import schemathesis
from django.db import transaction
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.site import fuzz_support as fuzz
from tongban.site.api import api
from tongban.site.wsgi import application

SCHEMA = api.get_openapi_schema()
OPERATIONS = sorted((method.upper(), path) for path, methods in SCHEMA["paths"].items() for method in methods)
# Examples per operation (callers drawn among them). Deterministic: each operation has its own seed.
# TONGBAN_FUZZ_EXAMPLES=200 for a deeper run by hand.
EXAMPLES = int(os.environ.get("TONGBAN_FUZZ_EXAMPLES", "12"))
CHECKS = [not_a_server_error, response_schema_conformance, fuzz.error_envelope]


@pytest.fixture(scope="module", autouse=True)
def _hypothesis_as_it_was():
    with fuzz.hypothesis_restored_afterwards():
        yield


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        yield fuzz.build_world()
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def fuzz_schema(django_db_blocker):
    with django_db_blocker.unblock(), fuzz.connections_kept_open():
        schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
    # The caller's token is set on each call. Undeclared extra fields are left out: the schemas
    # ignore them, and generating them costs a quarter of the time.
    schema.config.generation.update(with_security_parameters=False, allow_extra_parameters=False)
    return schema


def _public(method: str, path: str) -> bool:
    return not SCHEMA["paths"][path][method.lower()].get("security")


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_fuzz(world, fuzz_schema, method, path):
    """Random valid and invalid input (path, query, body), often with identifiers of the world in
    the path so calls reach past the lookup, half the time with one hostile value in it (see
    fuzz_support.inject_hostile), each sent as one of the callers: anonymous only where the
    operation is public (elsewhere the API refuses nobody before reading any input, see
    test_permission_matrix). Each call runs in a savepoint rolled back after it, so no call changes
    what the next one sees: no operation needs excluding, not even logging out or revoking the
    caller's own token."""
    operation = fuzz_schema[path][method]
    known = fuzz.known_path_parameters(path, world)
    strategies = [operation.as_strategy(), operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=known)]
    if known:  # valid input about things that exist: half the calls
        strategies += [operation.as_strategy(path_parameters=known)] * 2
    roles = [role for role in fuzz.ROLES if role != "anonymous" or _public(method, path)]

    @seed(zlib.crc32(f"{method} {path}".encode()))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=st.one_of(strategies), role=st.sampled_from(roles), data=st.data())
    def call(case, role, data):
        hostile = fuzz.inject_hostile(case, data.draw) if data.draw(st.booleans(), label="hostile") else None
        token = world.tokens[role]
        headers = {"Authorization": f"Bearer {token}"} if token else None
        with fuzz.crashes_logged() as crashes, fuzz.connections_kept_open(), transaction.atomic():
            response = case.call(headers=headers)
            transaction.set_rollback(True)
        fuzz.clear_process_caches()
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except Exception as exc:
            exc.add_note(f"caller: {role}; {hostile or 'no hostile value'}")
            for crash in crashes:
                exc.add_note(crash)
            raise

    call()


# --- what the fuzz found: each failing input, replayed as a plain test --------------------------------------------


def _bearer(world, role):
    return {"HTTP_AUTHORIZATION": f"Bearer {world.tokens[role]}"} if world.tokens[role] else {}


def _post(client, path, body, headers):
    return client.post(path, data=json.dumps(body), content_type="application/json", **headers)


def _error(response, status, code):
    assert response.status_code == status, (response.status_code, response.content[:300])
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["messages"]["zh-hans"] and error["messages"]["en"], error
    return error


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["", "   ", "\u3000"])
def test_login_with_a_blank_username_is_refused_not_a_crash(client, world, username):
    """Found: POST /auth/token with username "" was a 500 — the failed login's ledger entry files
    the attempt under a keyed hash of the name, and a blank name has none."""
    response = _post(client, "/api/v1/auth/token", {"username": username, "password": "x"}, {})
    _error(response, 401, "invalid_credentials")


UNSTORABLE = "Text contains a character that cannot be stored (NUL U+0000 or an unpaired surrogate)"
NUL = "Text must not contain the NUL character (U+0000)"
SURROGATE = "Text must not contain an unpaired surrogate (U+D800-U+DFFF)"
# Found on PostgreSQL (text and jsonb cannot hold U+0000): a 500 from the driver; on SQLite the NUL
# was stored. Found next, probing with the fuzz's hostile values: an unpaired surrogate (JSON
# "\ud800") was a 500 on both databases (it cannot be encoded). Now one check at JSON parsing
# refuses both, for every operation.
UNSTORABLE_BODIES = {
    # case: (caller, path, raw JSON body, location in the details, problem)
    "task opinion": ("official", "/api/v1/onestop/tasks/{task_id}/decision",
                     r'{"opinion": "\u0007\u00a8\u00f9\udb71\udd98\u0000", "approve": false}', ["body", "opinion"], NUL),
    "ticket reply": ("official", "/api/v1/onestop/tickets/{ticket_id}/reply", r'{"reply": "已整改\u0000"}',
                     ["body", "reply"], NUL),
    "credential type": ("official", "/api/v1/credentials/issue",
                        r'{"type": "\u0094\u0000\u0096", "holder": "x", "fields": {}}', ["body", "type"], NUL),
    "resource item name": ("official", "/api/v1/catalog/resources",
                           r'{"name": "婚姻登记", "items": [{"key": "a", "name": "t\u0000"}]}',
                           ["body", "items", "0", "name"], NUL),
    "login name": ("anonymous", "/api/v1/auth/token", r'{"username": "a\u0000", "password": "x"}',
                   ["body", "username"], NUL),
    "object key": ("official", "/api/v1/onestop/tasks/{task_id}/decision",
                   r'{"opinion": "同意", "approve": true, "extra": {"\u0000": 1}}', ["body", "extra"], NUL),
    "lone surrogate": ("official", "/api/v1/onestop/tasks/{task_id}/decision",
                       r'{"opinion": "\ud800", "approve": false}', ["body", "opinion"], SURROGATE),
    "lone low surrogate": ("official", "/api/v1/onestop/tickets/{ticket_id}/reply", r'{"reply": "ok\udfff"}',
                           ["body", "reply"], SURROGATE),
    "surrogate as UTF-8 bytes": ("anonymous", "/api/v1/auth/token", b'{"username": "\xed\xa0\x80", "password": "x"}',
                                 ["body", "username"], SURROGATE),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(UNSTORABLE_BODIES))
def test_unstorable_text_in_any_json_string_is_422(client, world, case):
    role, path, body, location, problem = UNSTORABLE_BODIES[case]
    response = client.post(path.format(**world.values), data=body, content_type="application/json",
                           **_bearer(world, role))
    error = _error(response, 422, "invalid_input")
    assert error["messages"] == {"zh-hans": "文本中含有无法保存的字符（空字符 U+0000 或不成对的代理项）", "en": UNSTORABLE}
    kind = "string_nul_character" if problem == NUL else "string_unpaired_surrogate"
    assert error["details"] == [{"location": location, "type": kind, "message": problem}]


@pytest.mark.django_db
@pytest.mark.parametrize("body", [r'{"username": "\\u0000", "password": "x"}',  # a backslash, then "u0000"
                                  r'{"username": "\ud83d\ude00", "password": "x"}'])  # a surrogate pair: 😀
def test_escapes_that_are_not_unstorable_text_pass(client, world, body):
    _error(client.post("/api/v1/auth/token", data=body, content_type="application/json"), 401, "invalid_credentials")


@pytest.mark.django_db
@pytest.mark.parametrize("value", [r"张\u0000三", r"\udc00"])
@pytest.mark.parametrize("content_type", ["application/json", "application/x-ndjson"])
def test_unstorable_text_in_a_record_is_a_bad_row(client, world, value, content_type):
    """Found probing: a record value with NUL was stored on SQLite and a 500 on PostgreSQL (jsonb);
    one with an unpaired surrogate a 500 on both. The records batch parses its own body (JSON,
    NDJSON, CSV), so its row check refuses them: the batch fails whole, the row named."""
    from tongban.exchange.models import Record

    row = '{"id_number": "' + world.values["subject"] + '", "name": "' + value + '", "marital_status": "20"}'
    body = '{"records": [' + row + "]}" if content_type == "application/json" else row + "\n"
    before = Record.objects.count()
    response = client.post(f"/api/v1/exchange/resources/{world.values['resource_code']}/records", data=body,
                           content_type=content_type, **_bearer(world, "official"))
    error = _error(response, 422, "invalid_records")
    assert [(e["row"], e["item"], e["code"]) for e in error["details"]["errors"]] == [
        (1, "name", "unstorable_character")]
    assert Record.objects.count() == before


HUGE = 2**70


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "path"), [
    # Found: page=82010837417803601441456128 of the policy library (offset past 2**63: SQLite
    # "datatype mismatch", PostgreSQL "bigint out of range").
    ("citizen", "/api/v1/policies?page_size=100&page=82010837417803601441456128"),
    # Found: offset=1700020203044290793968033675083776 of "who accessed my data".
    ("citizen", "/api/v1/me/data-access?offset=1700020203044290793968033675083776"),
    # Found probing: the same, in the records of an open resource.
    ("anonymous", f"/api/v1/open-data/resources/{{open_code}}/records?page={HUGE}"),
])
def test_a_page_past_the_end_is_empty(client, world, role, path):
    response = client.get(path.format(**world.values), **_bearer(world, role))
    assert response.status_code == 200, response.content[:300]
    assert response.json()["items"] == []
    assert response.json()["count"] >= 1  # there is data, just not on that page


@pytest.mark.django_db
@pytest.mark.parametrize("query", [f"page={HUGE}", f"q=婚姻&page={HUGE}", "page=10001"])
def test_a_catalog_page_beyond_the_bound_is_invalid_paging(client, world, query):
    """Found probing: the catalog search (browsing, and its full-text index) with a page past 2**63
    was a 500 on both databases. Its pages are now bounded like its page size."""
    error = _error(client.get(f"/api/v1/catalog/resources?{query}"), 422, "invalid_paging")
    assert error["messages"]["en"] == "Invalid paging (page 1–10000, 1–100 per page)"


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["page=10000", "q=婚姻&page=10000"])
def test_the_last_catalog_page_is_still_a_page(client, world, query):
    response = client.get(f"/api/v1/catalog/resources?{query}")
    assert response.status_code == 200, response.content[:300]
    assert response.json()["items"] == [] and response.json()["page"] == 10000


@pytest.mark.django_db
@pytest.mark.parametrize("tree_size", [HUGE, -HUGE, 2**63])
def test_a_tree_size_beyond_any_integer_is_invalid(client, world, tree_size):
    """Found: GET /ledger/entries/0?tree_size=2**70 was a 500 on SQLite (the value cannot be bound)."""
    _error(client.get(f"/api/v1/ledger/entries/0?tree_size={tree_size}"), 422, "invalid_tree_size")


@pytest.mark.django_db
@pytest.mark.parametrize("policy_id", [2**63, -(2**63) - 1])
def test_rating_a_policy_id_beyond_any_integer_is_not_found(client, world, policy_id):
    """Found: POST /policies/-9223372036854775809/rating as a citizen was a 500 on SQLite (the id
    reached a foreign-key lookup, which Django does not range-check)."""
    response = _post(client, f"/api/v1/policies/{policy_id}/rating", {"score": 5}, _bearer(world, "citizen"))
    _error(response, 404, "not_found")


@pytest.mark.django_db
def test_an_unstorable_item_name_in_a_record_is_named_without_it(client, world):
    """The error names an unknown item by its key: one with an unpaired surrogate (NDJSON parses
    each line itself) is shown with U+FFFD, else the answer itself could not be encoded (a 500)."""
    row = '{"id_number": "' + world.values["subject"] + '", "name": "张三", "marital_status": "20", "x\\udc00": 1}'
    response = client.post(f"/api/v1/exchange/resources/{world.values['resource_code']}/records", data=row + "\n",
                           content_type="application/x-ndjson", **_bearer(world, "official"))
    error = _error(response, 422, "invalid_records")
    assert [(e["item"], e["code"]) for e in error["details"]["errors"]] == [("x\ufffd", "unknown_item")]


class _Answer:
    def __init__(self, status, body, content_type="application/json"):
        self.status_code, self.content = status, body.encode()
        self.headers = {"content-type": [content_type]}


@pytest.mark.parametrize(("status", "body", "content_type"), [
    (404, "<h1>Not Found</h1>", "text/html"),
    (422, '{"detail": [{"loc": ["body"], "msg": "field required"}]}', "application/json"),  # django-ninja's own
    (500, '{"error": "boom"}', "application/json"),
    (403, '{"error": {"code": "permission_denied", "message": "无权", "details": null}}', "application/json"),
])
def test_the_envelope_check_refuses_any_other_error_body(status, body, content_type):
    with pytest.raises(AssertionError):
        fuzz.error_envelope(None, _Answer(status, body, content_type), None)


def test_the_envelope_check_passes_the_envelope_and_successes():
    envelope = ('{"error": {"code": "not_found", "message": "未找到", "messages": {"zh-hans": "未找到", "en": "Not found"},'
                ' "details": null}}')
    assert fuzz.error_envelope(None, _Answer(404, envelope), None) is None
    assert fuzz.error_envelope(None, _Answer(200, "<html></html>", "text/html"), None) is None

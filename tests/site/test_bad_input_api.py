"""Bad input at the API: bodies over the limit, deeply nested JSON, wrong content types, invalid
UTF-8 (body, query string, path), SQL injection strings in searches and filters. Each answer is
the specific error in the envelope (status, code, Chinese and English message) and nothing
changed: every table's row count, the ledger and the files on disk are as they were."""

from __future__ import annotations

import json

import pytest

from tests.catalog.factories import resource_data
from tests.exchange.factories import enterprise_resource, id_number, person_resource, person_row, steward
from tests.identity.factories import PASSWORD, make_citizen_user
from tests.site.bad_input_support import bearer, changed, envelope, multipart, state
from tongban.core.api import MAX_JSON_DEPTH
from tongban.exchange.models import Record

pytestmark = pytest.mark.django_db

RECORDS = "/api/v1/exchange/resources/{code}/records"
DEPTH = 100_000


@pytest.fixture(autouse=True)
def _setup(settings, tmp_path):
    settings.TONGBAN_MFA_REQUIRED = False
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def world():
    """A steward of civil with a published person resource holding two records, and a citizen."""
    resource = person_resource("civil")
    keeper = steward("civil")
    citizen = make_citizen_user("bad-input-citizen")
    from django.test import Client

    client = Client()
    loaded = client.post(RECORDS.format(code=resource.code), data=json.dumps({"records": [person_row(1), person_row(2)]}),
                         content_type="application/json", **bearer(keeper))
    assert loaded.status_code == 201, loaded.content
    return {"resource": resource, "steward": bearer(keeper), "citizen": bearer(citizen)}


def post_json(client, path, body: bytes | str, headers, content_type="application/json"):
    return client.post(path, data=body, content_type=content_type, **headers)


# --- bodies over the limit ------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["token", "catalog", "records"])
def test_json_body_over_the_upload_limit_is_413(client, world, target):
    """A JSON body past DATA_UPLOAD_MAX_MEMORY_SIZE (10 MB): 413 payload_too_large, not a 500."""
    padding = "x" * (10 * 1024 * 1024 + 1)
    path, body, headers = {
        "token": ("/api/v1/auth/token", {"username": padding, "password": PASSWORD}, {}),
        "catalog": ("/api/v1/catalog/resources", resource_data(abstract=padding), world["steward"]),
        "records": (RECORDS.format(code=world["resource"].code),
                    {"records": [person_row(3, address=padding)]}, world["steward"]),
    }[target]
    before = state()
    response = post_json(client, path, json.dumps(body), headers)
    error = envelope(response, 413, "payload_too_large")
    assert error["messages"] == {"zh-hans": "请求体过大", "en": "Request body too large"}
    assert changed(before, state()) == {}


def test_multipart_form_field_over_the_limit_is_413(client, world):
    """A multipart body whose non-file part is past the limit (Django raises while reading request.POST)."""
    body, content_type = multipart({"material": "1" * (10 * 1024 * 1024 + 1)}, {"file": ("a.pdf", b"%PDF-1.7\n")})
    before = state()
    response = client.post("/api/v1/onestop/applications/X-1/uploads", data=body, content_type=content_type,
                           **world["citizen"])
    envelope(response, 413, "payload_too_large")
    assert changed(before, state()) == {}


def test_streamed_records_body_over_the_stream_limit_is_413(client, world, monkeypatch):
    from tongban.exchange import api_records

    monkeypatch.setattr(api_records, "MAX_STREAM_BYTES", 4096)
    rows = "\n".join(json.dumps(person_row(n), ensure_ascii=False) for n in range(3, 60)).encode()
    assert len(rows) > 4096
    before = state()
    response = post_json(client, RECORDS.format(code=world["resource"].code), rows, world["steward"],
                         content_type="application/x-ndjson")
    assert envelope(response, 413, "payload_too_large")["details"] == {"max_bytes": 4096}
    assert changed(before, state()) == {}


# --- deeply nested JSON --------------------------------------------------------------------------------------


DEEP_BODIES = {"arrays": "[" * DEPTH, "objects": '{"a":' * DEPTH,
               "closed": "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)}


@pytest.mark.parametrize("shape", sorted(DEEP_BODIES))
@pytest.mark.parametrize("target", ["token", "catalog", "policy_rule"])
def test_deeply_nested_json_is_400_json_too_deep(client, world, target, shape):
    """100,000 levels (the decoder's RecursionError), or valid JSON deeper than MAX_JSON_DEPTH that
    later code would walk recursively: 400 json_too_deep, never a 500."""
    path, headers = {"token": ("/api/v1/auth/token", {}),
                     "catalog": ("/api/v1/catalog/resources", world["steward"]),
                     "policy_rule": ("/api/v1/onestop/items/X/rules/test", world["steward"])}[target]
    before = state()
    error = envelope(post_json(client, path, DEEP_BODIES[shape], headers), 400, "json_too_deep")
    assert error["messages"] == {"zh-hans": "JSON 嵌套层级过深", "en": "The JSON is nested too deeply"}
    assert changed(before, state()) == {}


def test_nested_json_inside_a_field_is_refused_not_crashed(client, world):
    """A JSON-Logic rule nested just under the limit reaches the rule compiler: a clean 4xx."""
    from tests.onestop.factories import service_item

    item = service_item("civil")
    logic: object = {"var": "form.age"}
    for _ in range((MAX_JSON_DEPTH - 3) // 2):
        logic = {"!": [logic]}
    before = state()
    response = post_json(client, f"/api/v1/onestop/items/{item.code}/rules/test", json.dumps({"logic": logic}),
                         world["steward"])
    assert response.status_code in (200, 422), response.content[:300]  # answered or refused, never a 500
    if response.status_code == 422:
        assert response.json()["error"]["messages"]["en"]
    assert changed(before, state()) == {}


@pytest.mark.parametrize("content_type", ["application/json", "application/x-ndjson"])
def test_deeply_nested_records_batch_is_422(client, world, content_type):
    before = state()
    response = post_json(client, RECORDS.format(code=world["resource"].code), "[" * DEPTH, world["steward"],
                         content_type=content_type)
    if content_type == "application/json":
        error = envelope(response, 422, "json_too_deep")
        assert error["messages"]["en"] == "The JSON is nested too deeply"
    else:  # a bad line is reported with the batch's other bad rows
        error = envelope(response, 422, "invalid_records")
        assert [(e["row"], e["code"]) for e in error["details"]["errors"]] == [(1, "json_too_deep")]
    assert changed(before, state()) == {}


# --- wrong content types -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
@pytest.mark.parametrize("target", ["token", "catalog"])
def test_json_operation_refuses_other_content_types_415(client, world, target, content_type):
    """Even a well-formed JSON body is refused under another type (text/plain is what a cross-site
    form can send)."""
    path, body, headers = {
        "token": ("/api/v1/auth/token", {"username": "nobody", "password": PASSWORD}, {}),
        "catalog": ("/api/v1/catalog/resources", resource_data(), world["steward"]),
    }[target]
    before = state()
    response = post_json(client, path, json.dumps(body), headers, content_type=content_type)
    error = envelope(response, 415, "unsupported_media_type")
    assert error["messages"] == {"zh-hans": "请以 JSON 发送请求体，并设置 Content-Type: application/json",
                                 "en": "Send the body as JSON with Content-Type: application/json"}
    assert error["details"] == {"accepted": ["application/json"]}
    assert changed(before, state()) == {}
    ok = post_json(client, path, json.dumps(body), headers, content_type="application/json; charset=utf-8")
    assert ok.status_code in (201, 401)  # the same body as JSON is read (401: nobody's password)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_records_refuse_other_content_types_415(client, world, content_type):
    before = state()
    body = json.dumps({"records": [person_row(3)]})
    response = post_json(client, RECORDS.format(code=world["resource"].code), body, world["steward"],
                         content_type=content_type)
    error = envelope(response, 415, "unsupported_media_type")
    assert "application/json" in error["details"]["accepted"]
    assert changed(before, state()) == {}


# --- invalid UTF-8 ----------------------------------------------------------------------------------------------


def test_invalid_utf8_in_a_json_body(client, world):
    before = state()
    token = post_json(client, "/api/v1/auth/token", b'{"username": "\xff\xfe", "password": "x"}', {})
    assert envelope(token, 400, "bad_request")["messages"]["en"] == "The body is not valid JSON"
    records = post_json(client, RECORDS.format(code=world["resource"].code),
                        b'{"records": [{"name": "\xc3\x28"}]}', world["steward"])
    assert envelope(records, 422, "invalid_json")["messages"]["en"] == "The body is not valid JSON"
    assert changed(before, state()) == {}


def test_invalid_utf8_in_a_csv_and_ndjson_upload(client, world):
    code = world["resource"].code
    before = state()
    # Valid UTF-8 for the first 64 KiB (so it is read as UTF-8), then a byte that is not.
    rows = "".join(f"{id_number(n)},张{n},20\n" for n in range(3, 2600)).encode()
    body = "公民身份号码,姓名,婚姻状况\n".encode() + rows + b"\xff\xfe,\xc3\x28,20\n"
    assert len(body) > 64 * 1024
    csv_answer = post_json(client, RECORDS.format(code=code), body, world["steward"], content_type="text/csv")
    error = envelope(csv_answer, 422, "invalid_encoding")
    assert "UTF-8" in error["messages"]["en"] and "GB18030" in error["messages"]["zh-hans"]
    ndjson = post_json(client, RECORDS.format(code=code), b'{"id_number": "\xff"}\n', world["steward"],
                       content_type="application/x-ndjson")
    assert [e["code"] for e in envelope(ndjson, 422, "invalid_records")["details"]["errors"]] == ["invalid_json_line"]
    assert changed(before, state()) == {}


@pytest.mark.parametrize("raw", ["%ff%fe", "%c3%28", "%ed%a0%80", "%2500"])
def test_invalid_utf8_in_the_query_string_is_data(client, world, raw):
    """Undecodable bytes in a search are replaced, not a 500: nothing matches."""
    for path in (f"/api/v1/catalog/resources?q={raw}", f"/api/v1/policies?q={raw}", f"/api/v1/onestop/items?q={raw}"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.content[:300])
        assert response.json()["count"] == 0 if "count" in response.json() else True


@pytest.mark.parametrize("raw", ["%ff%fe", "%c3%28", "..%2f..%2fetc%2fpasswd"])
def test_invalid_utf8_nul_and_traversal_in_a_path_is_404(client, world, raw):
    before = state()
    for path in (f"/api/v1/catalog/resources/{raw}", f"/api/v1/exchange/resources/{raw}/records/{id_number(1)}",
                 f"/api/v1/exchange/resources/{world['resource'].code}/records/{raw}"):
        response = client.get(path, **world["steward"])
        assert response.status_code in (404, 403), (path, response.status_code)
        assert response.json()["error"]["code"] in ("not_found", "no_grant"), response.content  # no grant: unknown code
    page = client.get(f"/catalog/{raw}/")
    assert page.status_code == 404
    assert changed(before, state()) == {}


@pytest.mark.parametrize("path", ["/api/v1/catalog/resources?q=%00", "/api/v1/catalog/resources?q=a%00b&page=1",
                                  "/api/v1/catalog/resources/a%00b", "/api/v1/policies?q=%00",
                                  "/api/v1/exchange/resources/x/records/%00"])
def test_nul_in_the_query_string_or_path_is_400_for_the_api(client, world, path):
    """PostgreSQL refuses U+0000 in text (a 500 there before); refused up front on both databases."""
    before = state()
    error = envelope(client.get(path, **world["steward"]), 400, "nul_character")
    assert error["messages"] == {"zh-hans": "请求地址中不能含有空字符（U+0000）",
                                 "en": "The address must not contain the NUL character (U+0000)"}
    assert changed(before, state()) == {}


@pytest.mark.parametrize("path", ["/catalog/?q=%00", "/catalog/a%00b/", "/services/?q=x%00"])
def test_nul_in_the_query_string_or_path_is_400_for_pages(client, path):
    page = client.get(path)
    assert page.status_code == 400
    assert "空字符" in page.content.decode() and "NUL character" in page.content.decode()


# --- SQL injection strings are data -----------------------------------------------------------------------------


INJECTIONS = ["' OR 1=1 --", "'; DROP TABLE exchange_record; --", "\" OR \"\"=\"", "1) OR (1=1", "%' OR '%'='",
              "婚姻' OR '1'='1", "* NOT x", "NEAR(a b)", "a:b & !c | d", "\\'"]


@pytest.mark.parametrize("text", INJECTIONS)
def test_sql_injection_in_searches_and_filters_is_data(client, world, text):
    """Every string is a search word or a filter value: no error, no extra rows, tables intact."""
    enterprise_resource("market")  # open data exists: an injection that matched everything would show
    before = state()
    checks = [
        ("/api/v1/catalog/resources", {"q": text}), ("/api/v1/catalog/resources", {"q": "婚姻", "theme": text}),
        ("/api/v1/catalog/resources", {"department": text}), ("/api/v1/policies", {"q": text}),
        ("/api/v1/policies", {"theme": text, "department": text}), ("/api/v1/onestop/items", {"q": text}),
        ("/api/v1/onestop/items", {"department": text, "theme": text}),
    ]
    for path, params in checks:
        response = client.get(path, params)
        assert response.status_code in (200, 422), (path, params, response.content[:300])
        if response.status_code == 200:
            assert response.json().get("count", len(response.json().get("items", []))) == 0, (path, params)
        else:
            envelope(response, 422, "invalid_input")
    catalog_page = client.get("/catalog/", {"q": text})
    assert catalog_page.status_code == 200
    # As a subject key, in a path and in a lookup body: not found, never someone's record.
    code = world["resource"].code
    read = client.get(f"/api/v1/exchange/resources/{code}/records/{text}", **world["steward"])
    assert read.status_code in (403, 404, 422) and "error" in read.json()
    assert changed(before, state()) == {}
    assert Record.objects.count() == 2


def test_sql_injection_as_subject_keys_and_claims_finds_nobody(client):
    """A consumer with a grant: an injection as the subject key (path, lookup, verify) or as a claimed
    value is a malformed key or a mismatch, never a record."""
    from tests.exchange.factories_access import consumer_env

    env = consumer_env(records=3)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {env.token}"}
    base = f"/api/v1/exchange/resources/{env.code}"
    for text in INJECTIONS:
        read = client.get(f"{base}/records/{text}", **headers)
        assert read.status_code in (404, 422) and "record" not in read.json(), (text, read.content[:300])
        assert read.json()["error"]["code"] in ("not_found", "invalid_id_number"), read.json()
    lookup = client.post(f"{base}/lookup", data=json.dumps({"subjects": INJECTIONS}), content_type="application/json",
                         **headers)
    assert lookup.status_code == 422, lookup.content[:300]
    error = envelope(lookup, 422, "invalid_subjects")
    assert "record" not in json.dumps(error) and "张" not in json.dumps(error, ensure_ascii=False)
    verify = client.post(f"{base}/verify", content_type="application/json", **headers,
                         data=json.dumps({"subject": id_number(1), "claims": {"name": "' OR 1=1 --"}}))
    assert verify.status_code == 200, verify.content[:300]
    assert verify.json()["results"] == {"name": "no_match"}
    long_claim = client.post(f"{base}/verify", content_type="application/json", **headers,
                             data=json.dumps({"subject": id_number(1), "claims": {"marital_status": "20' OR '1'='1"}}))
    assert envelope(long_claim, 422, "invalid_claims")["details"] == {
        "invalid": [{"item": "marital_status", "code": "value_too_long"}]}

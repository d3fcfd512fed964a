"""End to end through the consuming services: a department's query and lookup of my record appear
in my data — "being recorded" until sealed, then with the ledger entry that proves them."""

from __future__ import annotations

import pytest

from tests.exchange.factories import person_row
from tests.exchange.factories_access import (
    _fresh_caches,  # noqa: F401 - autouse fixture
    consumer_env,
    id_number,
    load,
)
from tests.identity.factories import make_citizen_user
from tongban.exchange.services import access, sealing
from tongban.identity import tokens
from tongban.ledger import services as ledger

pytestmark = pytest.mark.django_db


def test_query_and_lookup_of_my_record_appear_with_their_ledger_entries(client):
    env = consumer_env(items=["id_number", "name", "marital_status"])
    me = make_citizen_user("watched", "王五")
    my_id = me.citizen.id_number
    load(env.code, [person_row(50, id_number=my_id, name="王五")])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens.issue_user_token(me).key}"}

    access.query(env.clerk, env.code, my_id)
    access.lookup(env.clerk, env.code, [id_number(1), my_id, id_number(2)])
    access.query(env.clerk, env.code, id_number(3))  # someone else

    pending = client.get("/api/v1/me/data-access", **auth).json()
    assert pending["count"] == 2
    assert [a["mode"] for a in pending["items"]] == ["lookup", "query"]
    assert all(a["department"] == "health" and not a["recorded"] for a in pending["items"])
    assert pending["items"][1]["purpose"] == env.grant.purpose
    assert [i["name"] for i in pending["items"][1]["items"]] == ["公民身份号码", "姓名", "婚姻状况"]

    assert sealing.seal_pending() == 3
    ledger.integrate()
    sealed = client.get("/api/v1/me/data-access", **auth).json()["items"]
    indexes = [a["ledger_index"] for a in sealed]
    assert all(isinstance(i, int) for i in indexes) and len(set(indexes)) == 2
    for item in sealed:
        entry = client.get(item["proof_url"]).json()
        assert entry["index"] == item["ledger_index"] and entry["action"] == sealing.ACTION
        # the entry names me only by the keyed hash, which my own identifier reproduces
        assert ledger.subject_hash(my_id) in [e.hash for e in ledger.entries_for_subject(my_id)
                                                  .get(index=item["ledger_index"]).subject_hashes.all()]

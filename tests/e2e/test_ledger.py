"""The public ledger in a real browser: checkpoint, entries, and an entry's proof verified."""

from __future__ import annotations

import pytest
from django.db import transaction

from tongban.ledger import services

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ledger(settings, tmp_path):
    settings.TONGBAN_KEYSTORE_DIR = tmp_path / "keystore"
    settings.TONGBAN_CRYPTO_PROFILE = "standard"
    settings.TONGBAN_LEDGER_COALESCE_MS = 0
    for batch in range(3):
        with transaction.atomic():  # each commit is integrated at once (on_commit)
            for i in range(4):
                services.record(actor="market-steward", action="catalog.resource_published",
                                subject=f"resource:MKT-{batch}{i:03d}", department="market",
                                payload={"batch": batch}, subject_ids=["11010519491231002X"])
    assert services.tree_size() == 12
    return services.latest_checkpoint()


def test_open_the_ledger_and_an_entry_with_its_verified_proof(page, settings, ledger):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/")
    page.get_by_role("contentinfo").get_by_role("link", name="公开账本").click()

    assert page.get_by_role("heading", level=1).inner_text() == "公开账本"
    checkpoint = page.get_by_test_id("checkpoint").inner_text()
    assert checkpoint.startswith(f"{settings.TONGBAN_NODE_NAME}\n12\n")
    assert checkpoint.strip() == ledger.note.strip()
    assert page.get_by_test_id("ledger-size").inner_text() == "12"
    links = page.get_by_test_id("entry-link")
    assert links.count() == 12
    assert page.get_by_role("cell", name="resource:MKT-2003").is_visible()

    page.get_by_role("link", name="#5", exact=True).click()
    assert page.get_by_role("heading", level=1).inner_text() == "账本条目 #5"
    verdict = page.get_by_test_id("proof-verdict")
    assert verdict.inner_text().startswith("✔")
    assert "已验证" in verdict.inner_text()
    steps = page.get_by_test_id("proof-steps").get_by_role("row")
    assert steps.count() == 1 + 1 + 4  # header, the leaf, one step per level of a 12-leaf tree
    assert "11010519491231002X" not in page.content()

    # The reader need not trust the server's tick: the page recomputes the root itself.
    page.get_by_test_id("browser-verify").click()
    verdict = page.get_by_test_id("browser-verdict")
    verdict.filter(has_text="✔").wait_for()
    assert ledger.note.split("\n")[2] in verdict.inner_text()  # the signed root, base64
    assert errors == []

"""The public and beneficiary policy pages: the library (search, filters, pages), one policy with
"do I qualify" and its reasons, one-click application (GET changes nothing, POST applies),
rating once, and "policies for me"."""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone

from tests.policies import factories as f
from tests.policies.factories import data_dir  # noqa: F401 - the fixture
from tongban.onestop.models import Application
from tongban.policies.models import Delivery, Policy, PolicyRating

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("data_dir")]

TODAY = datetime.date.today


def body(response) -> str:
    return response.content.decode()


def codes(page: str) -> list[str]:
    return re.findall(r'data-testid="policy-card" data-code="([^"]+)"', page)


def verdict(page: str) -> str | None:
    found = re.search(r'data-testid="verdict" data-matched="(true|false)"', page)
    return found.group(1) if found else None


def marks(page: str) -> list[str]:
    return re.findall(r'data-testid="reason" data-passed="(true|false)"', page)


def deliver(policy: Policy, holder) -> Delivery:
    """A delivery of ``policy`` to ``holder`` as a match run would make it."""
    return Delivery.objects.create(policy=policy, user=holder.user, subject=f.subject_of(holder), rule_version=1,
                                   reasons=[{"condition": "企业规模 in [micro, small]", "passed": True}],
                                   notified_at=timezone.now())


# --- the library -------------------------------------------------------------------------------------------------


def test_library_lists_published_policies_and_filters(client):
    jobs = f.policy("hr", title="小微企业稳岗补贴", theme=Policy.Theme.EMPLOYMENT)
    tech = f.policy("science", title="高新技术企业奖励", theme=Policy.Theme.INNOVATION, summary="研发投入奖励。")
    elderly = f.policy("civil", title="高龄津贴", target=Policy.Target.CITIZEN, theme=Policy.Theme.ELDERLY,
                       rule=f.ELDERLY_RULE)
    draft = f.policy("hr", title="草稿中的稳岗政策", status=Policy.Status.DRAFT)
    expired = f.policy("hr", title="过期的稳岗政策", valid_until=TODAY() - datetime.timedelta(days=1))

    page = client.get("/policies/")
    assert page.status_code == 200
    assert sorted(codes(body(page))) == sorted([jobs.code, tech.code, elderly.code])
    assert draft.code not in body(page) and expired.code not in body(page)
    assert codes(body(client.get("/policies/", {"q": "高龄"}))) == [elderly.code]
    assert codes(body(client.get("/policies/", {"q": "研发"}))) == [tech.code]  # the summary is searched too
    assert codes(body(client.get("/policies/", {"theme": "innovation"}))) == [tech.code]
    assert codes(body(client.get("/policies/", {"department": "civil"}))) == [elderly.code]
    assert codes(body(client.get("/policies/", {"target": "citizen"}))) == [elderly.code]
    empty = body(client.get("/policies/", {"q": "不存在的词"}))
    assert 'data-testid="no-policies"' in empty and 'data-count="0"' in empty


def test_library_is_chinese_first_with_english_on_request(client):
    f.policy("hr", title="小微企业稳岗补贴", title_en="Job retention subsidy")
    chinese = body(client.get("/policies/"))
    assert "<h1>政策库</h1>" in chinese and "小微企业稳岗补贴" in chinese and "就业创业" in chinese
    client.cookies["tongban_language"] = "en"
    english = body(client.get("/policies/"))
    assert "<h1>Policy library</h1>" in english and "Job retention subsidy" in english


def test_library_pages(client):
    made = [f.policy("hr", title=f"稳岗政策{n}") for n in range(21)]
    first, second = body(client.get("/policies/", {"q": "稳岗"})), body(client.get("/policies/", {"q": "稳岗", "page": 2}))
    assert len(codes(first)) == 20 and len(codes(second)) == 1
    assert 'href="?q=%E7%A8%B3%E5%B2%97&amp;page=2"' in first
    assert set(codes(first) + codes(second)) == {p.code for p in made}


# --- one policy --------------------------------------------------------------------------------------------------


def test_a_draft_is_not_found_by_the_public_but_previewed_by_its_department(client):
    draft = f.policy("hr", status=Policy.Status.DRAFT)
    assert client.get(f"/policies/{draft.pk}/").status_code == 404
    client.force_login(f.enterprise().user)
    assert client.get(f"/policies/{draft.pk}/").status_code == 404
    client.force_login(f.steward("science"))
    assert client.get(f"/policies/{draft.pk}/").status_code == 404
    client.force_login(f.steward("hr"))
    preview = client.get(f"/policies/{draft.pk}/")
    assert preview.status_code == 200 and 'data-testid="not-published"' in body(preview)
    draft.refresh_from_db()
    assert draft.view_count == 0  # a preview is no view


def test_detail_for_the_public_shows_the_policy_and_asks_to_log_in(client):
    policy = f.policy("hr", document_number="浙人社发〔2025〕88号", benefit="每人 1000 元", full_text="第一条 全文。")
    page = client.get(f"/policies/{policy.pk}/")
    text = body(page)
    assert page.status_code == 200
    assert "浙人社发〔2025〕88号" in text and "每人 1000 元" in text and "第一条 全文。" in text
    assert 'data-testid="sign-in-prompt"' in text and verdict(text) is None
    assert f"/accounts/login/?next=%2Fpolicies%2F{policy.pk}%2F" in text
    policy.refresh_from_db()
    assert policy.view_count == 1


def test_qualifying_enterprise_sees_every_condition_met_and_the_amount(client):
    policy = f.policy("hr", mode=Policy.Mode.AUTO_GRANT, benefit_amount=None,
                      benefit_formula={"*": [{"var": "insured_count"}, 100]})
    firm = f.enterprise(employees=30, insured_count=28)
    client.force_login(firm.user)
    text = body(client.get(f"/policies/{policy.pk}/"))
    assert verdict(text) == "true" and marks(text) == ["true", "true", "true"]
    assert re.search(r'data-testid="amount">[^<]*2800\.00', text)
    assert 'data-testid="apply-button"' not in text  # granted without application


def test_non_qualifying_enterprise_sees_which_condition_fails(client):
    policy = f.policy("hr")
    firm = f.enterprise(employees=500, insured_count=480)  # large: not a small firm
    client.force_login(firm.user)
    text = body(client.get(f"/policies/{policy.pk}/"))
    assert verdict(text) == "false" and marks(text) == ["false", "true", "true"]
    assert "企业规模" in text  # the condition by its label, with the value read


def test_a_citizen_is_told_the_policy_is_for_enterprises(client):
    policy = f.policy("hr")
    client.force_login(f.citizen().user)
    text = body(client.get(f"/policies/{policy.pk}/"))
    assert 'data-testid="wrong-kind"' in text and verdict(text) is None


# --- one-click application ---------------------------------------------------------------------------------------


def test_apply_get_changes_nothing_and_post_starts_the_application(client):
    policy = f.policy("hr", mode=Policy.Mode.APPLY)
    firm = f.enterprise()
    client.force_login(firm.user)
    detail = body(client.get(f"/policies/{policy.pk}/"))
    assert 'data-testid="apply-button"' in detail and 'method="post"' in detail

    confirm = client.get(f"/policies/{policy.pk}/apply/")
    assert confirm.status_code == 200 and 'data-testid="apply-confirm"' in body(confirm)
    assert marks(body(confirm)) == ["true", "true", "true"]
    assert not Application.objects.exists() and not Delivery.objects.exists()

    done = client.post(f"/policies/{policy.pk}/apply/")
    application = Application.objects.get()
    assert done.status_code == 302 and done["Location"] == f"/me/applications/{application.number}/"
    assert application.item.code == policy.service_item and application.applicant_id == firm.user_id
    item = Delivery.objects.get()
    assert item.status == Delivery.Status.APPLIED and item.application_number == application.number
    again = body(client.get(f"/policies/{policy.pk}/"))
    assert 'data-testid="apply-button"' not in again and 'data-testid="application-link"' in again


def test_apply_refused_with_the_reasons_when_not_eligible(client):
    policy = f.policy("hr", mode=Policy.Mode.APPLY)
    client.force_login(f.enterprise(employees=500).user)
    confirm = body(client.get(f"/policies/{policy.pk}/apply/"))
    assert 'data-testid="apply-confirm"' not in confirm and verdict(confirm) == "false"
    refused = client.post(f"/policies/{policy.pk}/apply/")
    text = body(refused)
    assert refused.status_code == 409 and 'data-code="not_eligible"' in text
    assert "false" in marks(text)
    assert not Application.objects.exists() and not Delivery.objects.exists()


def test_apply_refused_outside_the_application_window(client):
    policy = f.policy("hr", mode=Policy.Mode.APPLY, apply_until=TODAY() - datetime.timedelta(days=1))
    client.force_login(f.enterprise().user)
    assert 'data-testid="apply-closed"' in body(client.get(f"/policies/{policy.pk}/apply/"))
    refused = client.post(f"/policies/{policy.pk}/apply/")
    assert refused.status_code == 409 and 'data-code="outside_application_window"' in body(refused)
    assert not Application.objects.exists()


def test_apply_is_for_beneficiaries_only(client):
    policy = f.policy("hr", mode=Policy.Mode.APPLY)
    assert client.post(f"/policies/{policy.pk}/apply/").status_code == 302  # to the login
    client.force_login(f.steward("hr"))
    assert client.post(f"/policies/{policy.pk}/apply/").status_code == 403
    assert not Application.objects.exists()


# --- rating ------------------------------------------------------------------------------------------------------


def test_a_delivered_policy_is_viewed_and_rated_once(client):
    policy = f.policy("hr")
    firm = f.enterprise()
    item = deliver(policy, firm)
    client.force_login(firm.user)
    text = body(client.get(f"/policies/{policy.pk}/"))
    assert 'data-testid="rating-form"' in text and 'data-testid="delivery" data-status="viewed"' in text
    item.refresh_from_db()
    assert item.status == Delivery.Status.VIEWED and item.viewed_at is not None

    assert client.get(f"/policies/{policy.pk}/rating/").status_code == 405
    bad = client.post(f"/policies/{policy.pk}/rating/", {"score": "9"}, follow=True)
    assert not PolicyRating.objects.exists() and 'class="message error"' in body(bad)
    done = client.post(f"/policies/{policy.pk}/rating/", {"score": "4", "comment": "通知及时"})
    assert done.status_code == 302 and done["Location"] == f"/policies/{policy.pk}/"
    rating = PolicyRating.objects.get()
    assert rating.score == 4 and rating.comment == "通知及时" and rating.delivery_id == item.pk
    text = body(client.get(f"/policies/{policy.pk}/"))
    assert 'data-testid="rating-form"' not in text and 'data-testid="rated" data-score="4"' in text
    again = client.post(f"/policies/{policy.pk}/rating/", {"score": "1"}, follow=True)
    assert PolicyRating.objects.count() == 1 and "已评价" in body(again)


def test_no_rating_without_a_delivery(client):
    policy = f.policy("hr")
    client.force_login(f.enterprise().user)
    assert 'data-testid="rating-form"' not in body(client.get(f"/policies/{policy.pk}/"))
    assert client.post(f"/policies/{policy.pk}/rating/", {"score": "5"}).status_code == 404
    assert not PolicyRating.objects.exists()


# --- policies for me ---------------------------------------------------------------------------------------------


def test_my_policies_lists_matches_with_reasons_and_the_others_with_failed_conditions(client):
    small = f.policy("hr", title="小微企业稳岗补贴")
    big = f.policy("science", title="大企业研发奖励", rule={"==": [{"var": "size_class"}, "large"]})
    f.policy("civil", title="高龄津贴", target=Policy.Target.CITIZEN, rule=f.ELDERLY_RULE)
    firm = f.enterprise()
    deliver(small, firm)
    client.force_login(firm.user)
    page = client.get("/me/policies/")
    text = body(page)
    assert page.status_code == 200
    assert re.findall(r'data-testid="matched-policy" data-code="([^"]+)"', text) == [small.code]
    assert re.findall(r'data-testid="other-policy" data-code="([^"]+)"', text) == [big.code]
    assert "高龄津贴" not in text  # for citizens
    matched, other = text.split('data-testid="other-policies"')
    assert marks(matched) == ["true", "true", "true"] and 'data-testid="delivery" data-status="notified"' in matched
    assert marks(other) == ["false"] and "企业规模" in other


def test_my_policies_needs_a_beneficiary(client):
    assert client.get("/me/policies/").status_code == 302
    client.force_login(f.steward("hr"))
    assert client.get("/me/policies/").status_code == 403

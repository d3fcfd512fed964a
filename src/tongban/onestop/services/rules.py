"""Instant-approval rules (秒批): JSON-Logic stored as data, versioned, evaluated at submission.

A rule is an expression of ``tongban.core.jsonlogic`` (its semantics: a missing value is null,
every comparison with null is false, ``==`` is strict). It reads these variables:

* ``form.<field key>`` — the application form, prefilled values included
  (e.g. ``{">=": [{"var": "form.age"}, 60]}``);
* ``data.<resource code>.<item key>`` — the applicant's own records as fetched when the
  application started, for the resources and items the item binds (form prefill bindings and
  shared-data materials), e.g. ``{"==": [{"var": "data.civil-00001.marital_status"}, "20"]}``;
* ``wallet.<certificate type>`` — true when a certificate material of that type was satisfied
  from the applicant's wallet, e.g. ``{"!!": {"var": "wallet.marriage_certificate"}}``.

``set_rule`` stores a new current version after checking it against exactly those variables
(an unknown one is a 422 listing every problem); each version is a ledger entry. At submission
``evaluate`` answers ``rule_result``: ``{"version", "passed", "reasons": [{"condition",
"passed"}], "description", "evaluated_at"}`` — the version and readable reasons for the
applicant when it passes, and for the clerk when it does not.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Max
from django.utils import timezone

from tongban.catalog import services as catalog
from tongban.core import jsonlogic
from tongban.core.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from tongban.identity.access import Actor, require_authenticated
from tongban.ledger import services as ledger
from tongban.onestop.models import Application, InstantRule, Material, ServiceItem
from tongban.onestop.services import prefill as prefilling
from tongban.onestop.services.items import may_edit

RULE_SET = "onestop.rule_set"
MAX_RULE_BYTES = 20_000


def _catalog_types(resource_code: str) -> dict[str, tuple[str, str]]:
    """item key -> (type, name) of a published resource ({} when it is not in the catalog)."""
    try:
        resource = catalog.get_published(resource_code)
    except DomainError:
        return {}
    return {item.key: (str(item.effective_type), item.name) for item in catalog.items_of(resource)}


def variables(item: ServiceItem) -> dict[str, Any]:
    """Every variable a rule of ``item`` may read, with its type (for ``jsonlogic.validate``)."""
    names: dict[str, Any] = {}
    for field in item.form_schema or []:
        if isinstance(field, dict) and field.get("key"):
            names[f"form.{field['key']}"] = field.get("type", "text")
    for resource_code, keys in prefilling.bindings(item).items():
        types = _catalog_types(resource_code)
        for key in keys:
            names[f"data.{resource_code}.{key}"] = types.get(key, (None, ""))[0]
    for material in item.materials.all():
        if material.source == Material.Source.CERTIFICATE and material.certificate_type:
            names[f"wallet.{material.certificate_type}"] = "boolean"
    return names


def labels(item: ServiceItem) -> dict[str, str]:
    """Readable names of the variables (form labels, catalog item names) for the reasons."""
    shown: dict[str, str] = {}
    for field in item.form_schema or []:
        if isinstance(field, dict) and field.get("key"):
            shown[f"form.{field['key']}"] = str(field.get("label") or field["key"])
    for resource_code, keys in prefilling.bindings(item).items():
        types = _catalog_types(resource_code)
        for key in keys:
            name = types.get(key, (None, ""))[1]
            if name:
                shown[f"data.{resource_code}.{key}"] = name
    for material in item.materials.all():
        if material.source == Material.Source.CERTIFICATE and material.certificate_type:
            shown[f"wallet.{material.certificate_type}"] = f"{material.name}（电子证照）"
    return shown


def value_labels(item: ServiceItem) -> dict[str, dict[Any, str]]:
    """Coded values by their labels in the reasons (婚姻状况 in [已婚, 初婚, …], not ["20", "21", …]):
    the code lists of bound catalog items, and the options of choice fields."""
    out: dict[str, dict[Any, str]] = {}
    for field in item.form_schema or []:
        if isinstance(field, dict) and field.get("key") and isinstance(field.get("options"), list):
            out[f"form.{field['key']}"] = {str(o.get("value")): str(o.get("label") or o.get("value"))
                                           for o in field["options"] if isinstance(o, dict) and "value" in o}
    for resource_code, keys in prefilling.bindings(item).items():
        try:
            resource = catalog.get_published(resource_code)
        except DomainError:
            continue
        for catalog_item in catalog.items_of(resource):
            element = catalog_item.data_element
            if catalog_item.key in keys and element is not None and element.code_list_id:
                out[f"data.{resource_code}.{catalog_item.key}"] = dict(
                    element.code_list.entries.values_list("code", "name"))
    return out


def rule_data(application: Application) -> dict[str, Any]:
    """The data a rule is evaluated over (see the module docstring)."""
    return {"form": dict(application.form or {}), "data": prefilling.fetched_data(application),
            "wallet": prefilling.wallet_types(application)}


def current_rule(item: ServiceItem) -> InstantRule | None:
    return InstantRule.objects.filter(item=item, is_current=True).first()


def _check_shape(logic: Any) -> None:
    if not isinstance(logic, dict) or len(logic) != 1:
        raise InvalidInput("规则应为一个 JSON-Logic 表达式", "The rule must be one JSON-Logic expression",
                           code="invalid_rule", details={"problems": []})
    if len(str(logic).encode("utf-8")) > MAX_RULE_BYTES:
        raise InvalidInput("规则过长", "The rule is too long", code="invalid_rule",
                           details={"problems": [], "max_bytes": MAX_RULE_BYTES})


def set_rule(actor: Actor, item_code: str, logic: Any, description: str = "") -> InstantRule:
    """A new current version of the item's rule (stewards / department admins of the implementing
    department, the bureau's admin). 422 ``invalid_rule`` lists every problem."""
    require_authenticated(actor)
    item = (ServiceItem.objects.select_for_update(of=("self",)).select_related("department")
            .filter(code=item_code).first())
    if item is None or (actor.kind != "official"):
        if item is None:
            raise NotFound("没有这个服务事项", "No such service item")
        raise PermissionDenied("只有事项所属部门可以设置秒批规则", "Only the item's department sets its rule")
    if not may_edit(actor, item.department_id):
        if item.status != ServiceItem.Status.PUBLISHED:
            raise NotFound("没有这个服务事项", "No such service item")
        raise PermissionDenied("只有事项所属部门可以设置秒批规则", "Only the item's department sets its rule")
    _check_shape(logic)
    problems = jsonlogic.validate(logic, variables(item))
    if problems:
        first = problems[0]
        raise InvalidInput(f"规则有误：{first['message_zh']}", f"The rule has errors: {first['message_en']}",
                           code="invalid_rule", details={"problems": problems})
    description = (description or "").strip()[:2000]
    InstantRule.objects.filter(item=item, is_current=True).update(is_current=False)
    version = (InstantRule.objects.filter(item=item).aggregate(v=Max("version"))["v"] or 0) + 1
    rule = InstantRule.objects.create(item=item, version=version, logic=logic, description=description,
                                      is_current=True, created_by=actor.username or actor.kind)
    ledger.record(actor=actor.username or actor.kind, action=RULE_SET, subject=f"item:{item.code}",
                  payload={"version": version, "logic": logic, "variables": jsonlogic.variables_of(logic)},
                  department=item.department.code)
    return rule


def test_rule(logic: Any, sample: Any, *, item_code: str | None = None, actor: Actor | None = None) -> dict[str, Any]:
    """Try a rule on sample data (nothing stored): ``{"passed", "result", "reasons", "problems"}``.

    With ``item_code`` the rule is also checked against that item's variables and the reasons use
    its labels; an ``actor`` is then required: the item's editors (``may_edit``) try any of its
    versions, others only a published item (a draft is a 404). A rule with structural problems is
    not evaluated (``passed`` false).
    """
    item = None
    if item_code:
        if actor is None:
            raise PermissionDenied("需要登录", "Authentication required")
        require_authenticated(actor)
        item = ServiceItem.objects.filter(code=item_code).first()
        if item is None or (item.status != ServiceItem.Status.PUBLISHED and not may_edit(actor, item.department_id)):
            raise NotFound("没有这个服务事项", "No such service item")
    problems = jsonlogic.validate(logic, variables(item) if item else None)
    if not isinstance(sample, dict):
        problems.append({"path": "sample", "code": "invalid_sample", "message_zh": "样例数据应为对象",
                         "message_en": "The sample must be an object"})
    if any(p["code"] not in ("unknown_variable", "type_mismatch") for p in problems):
        return {"passed": False, "result": None, "reasons": [], "problems": problems}
    result, reasons = jsonlogic.explain(logic, sample, labels(item) if item else None,
                                        value_labels(item) if item else None)
    return {"passed": jsonlogic.truthy(result), "result": result, "reasons": reasons, "problems": problems}


test_rule.__test__ = False  # not a pytest test when imported into a test module


def evaluate(rule: InstantRule, application: Application, *, ungoverned: list[str] | None = None) -> dict[str, Any]:
    """The ``rule_result`` of ``rule`` over ``application`` (a malformed rule never passes).

    ``ungoverned``: prefill-bound fields without a government value — instant approval then fails
    ("no government record for <field>"): values typed by the applicant are never signed."""
    base = {"version": rule.version, "description": rule.description, "evaluated_at": timezone.now().isoformat()}
    if ungoverned:
        return {**base, "passed": False, "result": None,
                "reasons": [{"condition": f"无政府记录：{key} / no government record for {key}", "passed": False}
                            for key in ungoverned]}
    try:
        result, reasons = jsonlogic.explain(rule.logic, rule_data(application), labels(application.item),
                                            value_labels(application.item))
    except jsonlogic.RuleError as error:
        return {**base, "passed": False, "result": None,
                "reasons": [{"condition": f"规则无法执行 / the rule cannot be evaluated: {error}", "passed": False}]}
    return {**base, "passed": jsonlogic.truthy(result), "result": result, "reasons": reasons}

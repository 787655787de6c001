"""Prompt templates: typed variables, clear errors in Chinese, and a rendered preview."""

import pytest
from django.urls import reverse

from agents.models import PromptTemplate
from agents.prompts.templates import check_template, render

VARS = [
    {"name": "org", "label": "单位", "type": "short_text"},
    {"name": "kind", "label": "类型", "type": "choice", "choices": ["通知", "通报"]},
    {"name": "day", "label": "日期", "type": "date"},
    {"name": "count", "label": "人数", "type": "number", "required": False},
]
BODY = "{{ org }}拟于{{ day }}印发{{kind}}，参会{{ count }}人。"


def post(tenant, body, variables):
    data = {
        "department": tenant.department.pk,
        "name": "测试模板",
        "description": "",
        "body": body,
        "variables-TOTAL_FORMS": str(len(variables)),
        "variables-INITIAL_FORMS": "0",
        "variables-MIN_NUM_FORMS": "0",
        "variables-MAX_NUM_FORMS": "1000",
    }
    for i, v in enumerate(variables):
        data.update({f"variables-{i}-{k}": ("\n".join(val) if isinstance(val, list) else val) for k, val in v.items()})
        data[f"variables-{i}-position"] = i
        data.setdefault(f"variables-{i}-required", "on")
    return data


def test_a_valid_template_saves_and_previews_with_example_values(login, tenant_a, tenant_b):
    variables = [
        {**v, "example": {"org": "示范区应急局", "day": "2026-06-01", "kind": "通报", "count": "12"}[v["name"]]}
        for v in VARS
    ]
    client = login(tenant_a.admin)
    response = client.post(reverse("admin:agents_prompttemplate_add"), post(tenant_a, BODY, variables))
    assert response.status_code == 302
    template = PromptTemplate.objects.get(name="测试模板")
    assert [v.name for v in template.variables.all()] == ["org", "kind", "day", "count"]
    page = client.get(reverse("admin:agents_prompttemplate_change", args=[template.pk])).content.decode()
    assert "示范区应急局拟于2026-06-01印发通报，参会12人。" in page


def test_undefined_and_unused_variables_are_chinese_validation_errors(login, tenant_a, tenant_b):
    client = login(tenant_a.admin)
    body = "{{ org }}请处理{{ topic }}。"
    response = client.post(reverse("admin:agents_prompttemplate_add"), post(tenant_a, body, VARS[:2]))
    assert response.status_code == 200
    errors = " ".join(str(e) for fs in response.context["inline_admin_formsets"] for e in fs.formset.non_form_errors())
    assert "模板中使用了未定义的变量：topic" in errors
    assert "定义了但模板中没有使用的变量：kind" in errors
    assert not PromptTemplate.objects.filter(name="测试模板").exists()


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ([{"name": "Org", "label": "单位", "type": "short_text"}], "变量名“Org”无效"),
        ([{"name": "org", "label": "单位", "type": "choice", "choices": ["一"]}], "至少需要两个选项"),
        (
            [{"name": "org", "label": "单位", "type": "short_text"}, {"name": "org", "label": "又", "type": "date"}],
            "变量名重复：org",
        ),
    ],
)
def test_bad_variable_definitions_are_explained(variables, message):
    assert any(message in p for p in check_template("{{ org }}", variables))


def test_unbalanced_braces_are_caught():
    assert any(
        "不成对" in p
        for p in check_template("{{ org }} 和 {{ 未闭合", [{"name": "org", "label": "单位", "type": "short_text"}])
    )


def test_values_are_checked_by_type_when_rendering():
    with pytest.raises(ValueError, match="“类型”只能从给定选项中选择") as exc:
        render(BODY, VARS, {"org": "局", "kind": "命令", "day": "2026/06/01"})
    assert "形如 2026-01-31 的日期" in str(exc.value)
    with pytest.raises(ValueError, match="请填写“单位”"):
        render(BODY, VARS, {"kind": "通知", "day": "2026-06-01"})
    with pytest.raises(ValueError, match="需要填写数字"):
        render(BODY, VARS, {"org": "局", "kind": "通知", "day": "2026-06-01", "count": "十二"})
    assert (
        render(BODY, VARS, {"org": "局", "kind": "通知", "day": "2026-06-01"}) == "局拟于2026-06-01印发通知，参会人。"
    )


def test_placeholders_never_execute_template_code():
    variables = [{"name": "org", "label": "单位", "type": "long_text"}]
    out = render("{{ org }}", variables, {"org": "{% load static %}{{ settings.SECRET_KEY }}"})
    assert out == "{% load static %}{{ settings.SECRET_KEY }}"

"""The agent form offers the chosen model service's models, as the service lists them."""

from django.urls import reverse

from tests.agents.factories import make_endpoint
from tests.agents.runtime.helpers import model_endpoint


def models(client, endpoint):
    return client.get(reverse("admin:agents_agent_models"), {"endpoint": endpoint.pk})


def test_the_form_offers_the_registered_models_the_service_lists_and_says_what_is_missing(
    login, tenant_a, tenant_b, fake_openai
):
    fake_openai.models = ["fake-chat", "qwen-72b"]
    endpoint = model_endpoint(tenant_a.department, fake_openai)
    endpoint.model_names = "fake-chat,fake-large"
    endpoint.save()
    answer = models(login(tenant_a.admin), endpoint).json()
    assert answer["names"] == ["fake-chat"]
    assert "没有提供：fake-large" in answer["note"]
    assert "qwen-72b" in answer["note"] and "平台管理员登记" in answer["note"]


def test_a_service_that_cannot_be_reached_offers_its_registered_names_with_a_note(login, tenant_a, tenant_b):
    endpoint = make_endpoint(
        tenant_a.department, base_url="http://10.0.0.8:8000/v1", models="deepseek-chat,deepseek-r1"
    )
    answer = models(login(tenant_a.admin), endpoint).json()
    assert answer["names"] == ["deepseek-chat", "deepseek-r1"]
    assert answer["note"].startswith("无法从模型服务获取模型列表")


def test_the_model_list_of_another_departments_service_answers_404(login, tenant_a, tenant_b):
    theirs = make_endpoint(tenant_b.department)
    assert models(login(tenant_a.admin), theirs).status_code == 404
    assert login(tenant_a.staff).get(reverse("admin:agents_agent_models"), {"endpoint": theirs.pk}).status_code in (
        302,
        403,
    )


def test_the_agent_form_asks_for_the_model_list_of_the_chosen_service(login, tenant_a, tenant_b):
    from tests.agents.factories import make_agent

    agent = make_agent(tenant_a.department)
    page = login(tenant_a.admin).get(reverse("admin:agents_agent_change", args=[agent.pk])).content.decode()
    assert 'data-models-for="id_endpoint"' in page and 'data-models-for="id_fallback_endpoint"' in page
    assert "js/agent_builder" in page

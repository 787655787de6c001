"""An agent with a test set, and a fake model that follows its prompt, for the test set tests."""

from __future__ import annotations

from agents.models import EvalCase
from tests.agents.factories import make_template
from tests.agents.runtime.helpers import model_endpoint, policy_knowledge_base, published_agent

GOOD_PROMPT = "你是示范区的政策咨询助手，请依据资料回答并注明出处。"
BROKEN_PROMPT = "你是一个助手。"  # the instruction to answer from the documents was deleted by mistake


def prompt_following(body: dict) -> str:
    """The fake model's answer: from the passages when the system prompt asks for it, else nothing useful."""
    system = next((m["content"] for m in body.get("messages", []) if m["role"] == "system"), "")
    if "依据资料" in system and "简短" in system:
        return "博士研究生每月可领3000元安居补贴[1]。"
    if "依据资料" in system:
        return "博士研究生每月可领3000元安居补贴，最长36个月[1]。"
    return "抱歉，我无法回答这个问题。"


def agent_with_test_set(department, fake, *, cases: int = 3, **extra):
    """A published policy agent (model on the fake server, the talent-subsidy policy as knowledge) with
    ``cases`` cases that its good prompt passes."""
    fake.respond = prompt_following
    template = make_template(department, body=GOOD_PROMPT, variables=[])
    agent = published_agent(
        department,
        endpoint=model_endpoint(department, fake, max_concurrency=4),
        knowledge_bases=[policy_knowledge_base(department)],
        template=template,
        **extra,
    )
    for n in range(cases):
        EvalCase.objects.create(
            agent=agent,
            name=f"博士补贴标准{n + 1}",
            message=f"我是博士，第{n + 1}年来区里工作，安居补贴每月多少？",
            expected_sources="第一条",
            must_include="3000元",
            must_exclude="无法回答",
        )
    return agent

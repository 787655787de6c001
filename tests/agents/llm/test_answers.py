"""What the gateway makes of a model's answer: text in order, reasoning kept apart, tool calls, usage.

Every call goes through the real openai client to the loopback fake server.
"""

import json

from agents.llm import (
    Completed,
    ReasoningDelta,
    Target,
    TextDelta,
    ToolCall,
    Usage,
    chat_complete,
    chat_stream,
    tokens_estimate,
)
from agents.llm.reasoning import ThinkSplitter
from tests.fakes.openai_server import Reply

ASK = [{"role": "system", "content": "你是示范区的政务助手。"}, {"role": "user", "content": "人才补贴怎么申请？"}]


def run(endpoint, **kwargs):
    events = list(chat_stream(targets=[Target(endpoint, "fake-chat")], messages=ASK, **kwargs))
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert isinstance(events[-1], Completed) and not any(isinstance(e, Completed) for e in events[:-1])
    return events, text, reasoning, events[-1]


def test_streamed_text_arrives_in_order_with_the_servers_usage(endpoint, fake_openai):
    fake_openai.script(
        Reply(text=["符合条件的", "博士", "可在线申请。"], usage={"prompt_tokens": 31, "completion_tokens": 9})
    )
    events, text, reasoning, done = run(endpoint)
    assert [e.text for e in events[:-1]] == ["符合条件的", "博士", "可在线申请。"]
    assert done.text == text == "符合条件的博士可在线申请。" and reasoning == done.reasoning == ""
    assert done.usage == Usage(31, 9, estimated=False)
    assert (done.finish_reason, done.endpoint_id, done.model, done.attempts) == ("stop", endpoint.pk, "fake-chat", 1)
    assert done.ttft_ms is not None and done.ttft_ms >= 0
    sent = fake_openai.chat_requests[0]["body"]
    assert sent["messages"] == ASK and sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["model"] == "fake-chat" and sent["max_tokens"] == 2000


def test_usage_is_estimated_when_the_server_sends_none(endpoint, fake_openai):
    fake_openai.script(Reply(text="请准备学历证明和劳动合同。", usage=None))
    _, _, _, done = run(endpoint)
    assert done.usage.estimated
    assert done.usage.output_tokens == tokens_estimate("请准备学历证明和劳动合同。") > 0
    assert done.usage.input_tokens > tokens_estimate("人才补贴怎么申请？")


def test_reasoning_content_never_reaches_the_answer(endpoint, fake_openai):
    fake_openai.script(
        Reply(reasoning=["用户问的是", "人才补贴"], text=["请准备", "学历证明。"]),
        Reply(reasoning="先查政策", reasoning_as="reasoning", text="见第五条。"),
    )
    events, text, reasoning, done = run(endpoint)
    assert [type(e) for e in events] == [ReasoningDelta, ReasoningDelta, TextDelta, TextDelta, Completed]
    assert (text, reasoning) == ("请准备学历证明。", "用户问的是人才补贴")
    assert (done.text, done.reasoning) == (text, reasoning)

    _, text, reasoning, done = run(endpoint)
    assert (done.text, done.reasoning) == (text, reasoning) == ("见第五条。", "先查政策")


def test_inline_think_tags_split_across_chunks_are_taken_out(endpoint, fake_openai):
    fake_openai.script(
        Reply(text=["<th", "ink>\n用户要", "申请条件</th", "ink>\n\n条件如", "下：<b>博士</b>"]),
        Reply(reasoning="想一想", reasoning_as="think", text="好的。"),
        Reply(text=["<think>", "一直在想，", "没有想完"], finish_reason="length"),
    )
    _, text, reasoning, done = run(endpoint)
    assert (text, reasoning) == ("条件如下：<b>博士</b>", "用户要申请条件")
    assert (done.text, done.reasoning) == (text, reasoning)

    _, text, reasoning, done = run(endpoint)
    assert (done.text, done.reasoning) == (text, reasoning) == ("好的。", "想一想")

    _, text, reasoning, done = run(endpoint)  # opened and never closed: all of it is reasoning
    assert (done.text, done.reasoning, done.finish_reason) == ("", "一直在想，没有想完", "length")
    assert text == "" and "<think>" not in reasoning


def test_a_close_tag_never_opened_moves_what_came_before_into_reasoning(endpoint, fake_openai):
    # DeepSeek-R1's template opens <think> in the prompt; the reply only closes it.
    fake_openai.script(Reply(text=["先核对", "材料清单", "</think>", "\n\n请携带身份证。"]))
    _, _, _, done = run(endpoint)
    assert (done.text, done.reasoning) == ("请携带身份证。", "先核对材料清单")


def test_streamed_tool_calls_are_assembled_by_index(endpoint, fake_openai):
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]
    fake_openai.script(
        Reply(
            text="",
            tool_calls=[
                {"id": "call_w", "name": "weather", "arguments": {"city": "杭州", "days": 3}, "pieces": 5},
                {"id": "call_t", "name": "today", "arguments": "{}"},
            ],
        )
    )
    _, text, _, done = run(endpoint, tools=tools)
    assert text == "" and done.finish_reason == "tool_calls"
    assert done.tool_calls == [
        ToolCall("call_w", "weather", json.dumps({"city": "杭州", "days": 3}, ensure_ascii=False)),
        ToolCall("call_t", "today", "{}"),
    ]
    assert json.loads(done.tool_calls[0].arguments) == {"city": "杭州", "days": 3}
    assert done.ttft_ms is not None
    assert fake_openai.chat_requests[0]["body"]["tools"] == tools


def test_a_whole_answer_is_read_the_same_way(endpoint, fake_openai):
    fake_openai.script(
        Reply(
            reasoning="查一下",
            reasoning_as="think",
            text="办理地点：政务服务中心。",
            usage={"prompt_tokens": 7, "completion_tokens": 4},
        ),
        Reply(reasoning="需要工具", text="", tool_calls=[{"name": "lookup", "arguments": {"q": "补贴"}}], usage=None),
    )
    done = chat_complete(targets=[Target(endpoint, "fake-chat")], messages=ASK, response_format={"type": "text"})
    assert (done.text, done.reasoning, done.usage) == ("办理地点：政务服务中心。", "查一下", Usage(7, 4))
    assert fake_openai.chat_requests[0]["body"].get("stream") in (None, False)
    assert fake_openai.chat_requests[0]["body"]["response_format"] == {"type": "text"}

    done = chat_complete(targets=[Target(endpoint, "fake-chat")], messages=ASK)
    assert (done.text, done.reasoning, done.finish_reason) == ("", "需要工具", "tool_calls")
    assert done.tool_calls == [ToolCall("call_0", "lookup", '{"q": "补贴"}')]
    assert done.usage.estimated and done.attempts == 1


def test_think_tags_are_found_wherever_the_chunks_are_cut():
    content = "<think>\n核对第五条</think>\n\n可以申请<b>补贴</b>。"
    for i in range(len(content) + 1):
        for j in range(i, len(content) + 1):
            splitter = ThinkSplitter()
            pieces = [p for part in (content[:i], content[i:j], content[j:]) for p in splitter.feed(part)]
            pieces += splitter.flush()
            text = "".join(t for kind, t in pieces if kind == "text")
            reasoning = "".join(t for kind, t in pieces if kind == "reasoning")
            assert (text, reasoning) == ("可以申请<b>补贴</b>。", "核对第五条"), (i, j)


def test_a_broken_whole_answer_is_asked_again(endpoint, fake_openai):
    fake_openai.script(Reply(truncate_after=0), Reply(malformed_after=0), Reply(text="第三次才完整。"))
    done = chat_complete(targets=[Target(endpoint, "fake-chat")], messages=ASK)
    assert (done.text, done.attempts, len(fake_openai.chat_requests)) == ("第三次才完整。", 3, 3)

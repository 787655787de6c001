"""When models misbehave: rate limits, server errors, timeouts, broken streams, fallback endpoints."""

import socket

import pytest

from agents.llm import (
    Completed,
    ModelRejected,
    ModelUnavailable,
    StreamBroken,
    Target,
    TextDelta,
    chat_complete,
    chat_stream,
)
from tests.agents.factories import make_endpoint
from tests.fakes.openai_server import Reply

ASK = [{"role": "user", "content": "请起草一份防汛通知。"}]


def stream_into(events, **kwargs):
    """Run a stream, collecting what the user would have seen before it ended."""
    for event in chat_stream(messages=ASK, **kwargs):
        events.append(event)
    return events[-1]


def test_rate_limit_waits_for_retry_after_then_succeeds(endpoint, fake_openai):
    fake_openai.script({"status": 429, "headers": {"Retry-After": "1"}}, Reply(text="好的。"))
    waits = []
    done = stream_into([], targets=[Target(endpoint, "fake-chat")], sleep=waits.append)
    # The wait asked for is the server's second, plus a little jitter so callers do not return in step.
    assert len(waits) == 1 and 1.0 <= waits[0] <= 1.5
    assert (done.text, done.attempts, len(fake_openai.chat_requests)) == ("好的。", 2, 2)


def test_server_errors_are_retried_then_the_fallback_answers(endpoint, fake_openai, tenant_a):
    backup = make_endpoint(tenant_a.department, base_url=fake_openai.base_url, models="fake-backup")
    fake_openai.script({"status": 503}, {"status": 500}, {"status": 502}, Reply(text="备用模型的回答。"))
    done = stream_into([], targets=[Target(endpoint, "fake-chat"), Target(backup, "fake-backup")])
    assert (done.text, done.endpoint_id, done.model, done.attempts) == ("备用模型的回答。", backup.pk, "fake-backup", 4)
    assert [r["body"]["model"] for r in fake_openai.chat_requests] == ["fake-chat"] * 3 + ["fake-backup"]


def test_when_every_target_fails_the_user_learns_why(endpoint, fake_openai, tenant_a):
    backup = make_endpoint(tenant_a.department, base_url=fake_openai.base_url, models="fake-backup")
    fake_openai.status = 503
    with pytest.raises(ModelUnavailable) as caught:
        chat_complete(messages=ASK, targets=[Target(endpoint, "fake-chat"), Target(backup, "fake-backup")])
    assert caught.value.attempts == 6 == len(fake_openai.chat_requests)
    assert endpoint.name in str(caught.value) and backup.name in str(caught.value) and "503" in str(caught.value)


def test_a_long_retry_after_is_not_waited_for_when_a_fallback_exists(endpoint, fake_openai, tenant_a):
    backup = make_endpoint(tenant_a.department, base_url=fake_openai.base_url, models="fake-backup")
    fake_openai.script({"status": 429, "headers": {"Retry-After": "120"}}, Reply(text="备用。"))
    done = chat_complete(messages=ASK, targets=[Target(endpoint, "fake-chat"), Target(backup, "fake-backup")])
    assert (done.text, done.endpoint_id, done.attempts) == ("备用。", backup.pk, 2)


def test_a_bad_key_is_rejected_without_retry_and_without_leaking_it(endpoint, fake_openai):
    endpoint.api_key = "sk-wrong-key-123456"
    endpoint.save()
    fake_openai.api_key = "sk-right"
    with pytest.raises(ModelRejected) as caught:
        list(chat_stream(messages=ASK, targets=[Target(endpoint, "fake-chat")]))
    assert "401" in caught.value.message and "sk-wrong-key-123456" not in caught.value.message
    assert str(caught.value) == caught.value.message
    assert len(fake_openai.chat_requests) == 1


def test_an_unknown_model_is_rejected_and_a_disabled_endpoint_is_skipped(endpoint, fake_openai, tenant_a):
    fake_openai.script({"status": 404, "error": "The model `nope` does not exist"})
    with pytest.raises(ModelRejected, match="nope"):
        chat_complete(messages=ASK, targets=[Target(endpoint, "nope")])
    assert len(fake_openai.chat_requests) == 1

    disabled = make_endpoint(tenant_a.department, base_url=fake_openai.base_url, is_active=False)
    done = chat_complete(messages=ASK, targets=[Target(disabled, "fake-chat"), Target(endpoint, "fake-chat")])
    assert (done.endpoint_id, done.attempts, len(fake_openai.chat_requests)) == (endpoint.pk, 1, 2)
    with pytest.raises(ModelRejected, match="已停用"):
        chat_complete(messages=ASK, targets=[Target(disabled, "fake-chat")])
    assert len(fake_openai.chat_requests) == 2


def test_a_stalled_stream_keeps_its_partial_text(endpoint, fake_openai, wait_for):
    fake_openai.script(Reply(reasoning="先想", text=["关于", "防汛", "工作的通知"], stall_after=4))
    events = []
    with pytest.raises(StreamBroken) as caught:
        stream_into(events, targets=[Target(endpoint, "fake-chat")], stall_seconds=0.5)
    broken = caught.value
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["关于", "防汛"]
    assert (broken.partial_text, broken.partial_reasoning, broken.incomplete) == ("关于防汛", "先想", False)
    assert "0.5 秒内没有收到新内容" in broken.message and "已保留" in broken.message
    assert broken.usage.estimated and broken.usage.output_tokens > 0
    assert (broken.endpoint_id, broken.model, broken.attempts) == (endpoint.pk, "fake-chat", 1)
    assert len(fake_openai.chat_requests) == 1, "output had begun: never silently restarted"
    wait_for(lambda: fake_openai.hanging == 0, timeout=10)  # the gateway hung up on the stalled server


def test_a_stream_that_ends_without_its_final_chunk_is_incomplete(endpoint, fake_openai):
    fake_openai.script(Reply(text=["一、", "加强", "值守"], truncate_after=2))
    with pytest.raises(StreamBroken) as caught:
        stream_into([], targets=[Target(endpoint, "fake-chat")])
    assert (caught.value.partial_text, caught.value.incomplete) == ("一、加强", True)
    assert "还没结束" in caught.value.message
    assert len(fake_openai.chat_requests) == 1


def test_malformed_and_reset_streams_break_with_their_partial_text(endpoint, fake_openai):
    fake_openai.script(
        Reply(text=["一、", "加强", "值守"], malformed_after=2), Reply(text=["二、", "转移"], reset_after=1)
    )
    with pytest.raises(StreamBroken) as caught:
        stream_into([], targets=[Target(endpoint, "fake-chat")])
    assert (caught.value.partial_text, caught.value.incomplete) == ("一、加强", False)
    assert "无法解析" in caught.value.message

    with pytest.raises(StreamBroken) as caught:
        stream_into([], targets=[Target(endpoint, "fake-chat")])
    assert (caught.value.partial_text, caught.value.incomplete) == ("二、", False)
    assert "连接断开" in caught.value.message


def test_an_error_event_in_the_stream_breaks_it_with_what_the_server_said(endpoint, fake_openai):
    fake_openai.script(Reply(text=["一、", "加强"], error_after=1, error="推理服务显存不足"))
    with pytest.raises(StreamBroken) as caught:
        stream_into([], targets=[Target(endpoint, "fake-chat")])
    assert (caught.value.partial_text, caught.value.incomplete) == ("一、", False)
    assert "推理服务显存不足" in caught.value.message


def test_a_stream_that_fails_before_any_output_is_simply_retried(endpoint, fake_openai):
    fake_openai.script(Reply(truncate_after=0), Reply(text=["完整的", "回答"]))
    events = []
    done = stream_into(events, targets=[Target(endpoint, "fake-chat")])
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["完整的", "回答"]
    assert isinstance(done, Completed) and (done.text, done.attempts) == ("完整的回答", 2)


def test_a_silent_server_times_out_and_is_retried_a_bounded_number_of_times(tenant_a, fake_openai, loopback_allowed):
    slow = make_endpoint(tenant_a.department, base_url=fake_openai.base_url, timeout_seconds=1)
    fake_openai.script(*[Reply(delay=5)] * 3)
    with pytest.raises(ModelUnavailable, match="1 秒内没有响应") as caught:
        chat_complete(messages=ASK, targets=[Target(slow, "fake-chat")])
    assert caught.value.attempts == 3 == len(fake_openai.chat_requests)


def test_a_refused_connection_is_unavailable(tenant_a, tenant_b, loopback_allowed):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gone = make_endpoint(tenant_a.department, base_url=f"http://127.0.0.1:{port}/v1")
    with pytest.raises(ModelUnavailable, match="无法连接") as caught:
        list(chat_stream(messages=ASK, targets=[Target(gone, "fake-chat")]))
    assert caught.value.attempts == 3


def test_no_target_at_all_is_explained(db):
    with pytest.raises(ModelUnavailable, match="没有可用的模型服务"):
        chat_complete(messages=ASK, targets=[])

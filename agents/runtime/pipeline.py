"""``run_stream`` and ``run_execute``: the one way an agent runs, for every entry point.

A run row exists from the first moment (status "running"), its partial answer is saved every few
seconds, and whatever happens — success, a model fault, a guardrail, the consumer going away, a
bug — it ends with a final status, its trace, and its usage added exactly once. A process that
dies mid-run leaves a "running" row that ``runs_fail_stuck`` closes.

The pipeline is one async generator, ``run_astream``; the web server drives it on its event loop
(blocking steps in a bounded thread pool), everything else synchronously through ``run_stream``
(see ``driving``): one code path for every entry point.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from tenants.quotas import QuotaExceeded, quota_check
from tenants.roles import Action

from ..knowledge.retrieval import retrieve
from ..llm import (
    Completed,
    ModelError,
    StreamBroken,
    Target,
    TextDelta,
    chat_complete,
    context_too_long,
)
from ..llm import (
    ReasoningDelta as ModelReasoning,
)
from ..models import Agent, AgentVersion, Conversation, ModelEndpoint, Run, Tool
from ..privacy.masking import Masker
from ..tools.runner import ToolContext, tool_definitions, tool_execute
from . import guardrails, prompting, retrieval_only
from .access import (
    AgentNotAvailable,
    DepartmentPrincipal,
    agent_resolve,
    caller_department_id,
    readable_knowledge_bases,
)
from .driving import INLINE, SERVING, drive_inline
from .events import (
    AnswerDelta,
    AnswerReplaced,
    ReasoningDelta,
    RunEvent,
    RunFinished,
    RunStarted,
    Sources,
    ToolStep,
)
from .metering import run_meter
from .prompting import RunInputInvalid
from .visibility import delivered

log = logging.getLogger(__name__)

RETRIEVE_TOP_K = 5
SAVE_EVERY_SECONDS = 2.0
CANCEL_CHECK_SECONDS = 0.5
TOOL_RESULT_CHARS = 4000  # of a tool's result kept in the trace

__all__ = ["AgentNotAvailable", "QuotaExceeded", "RunInputInvalid", "run_astream", "run_execute", "run_stream"]


def run_execute(**kwargs) -> Run:
    """Run to the end (same arguments as ``run_stream``) and return the stored run."""
    run = None
    for event in run_stream(**kwargs):
        if isinstance(event, RunFinished):
            run = event.run
    return run


def run_stream(**kwargs) -> Iterator[RunEvent]:
    """``run_astream`` (same arguments) as a plain generator, every step in the caller's own thread."""
    return drive_inline(run_astream(io=INLINE, **kwargs))


async def run_astream(
    *,
    io=SERVING,
    principal,
    agent: Agent,
    message: str = "",
    form_values: dict | None = None,
    conversation: Conversation | None = None,
    attachments: list[dict] | None = None,
    via: str = Run.Via.CHAT,
    draft: bool = False,
    version: AgentVersion | None = None,
    regenerate: Run | None = None,
    history: list[tuple[str, str]] | None = None,
    max_tokens: int | None = None,
) -> AsyncIterator[RunEvent]:
    """Run ``agent`` for ``principal`` and yield its events; the last one is ``RunFinished``.

    ``attachments`` are ``{"name", "text"}`` dicts (text already extracted). ``draft`` runs the
    unpublished draft (the admin playground; only for the agent's admins); ``version`` one published version
    (a test set run; also only for its admins). ``regenerate`` names the
    run of the same conversation this one answers again (it then leaves the history). ``history`` is
    earlier (question, answer) pairs the caller supplies itself (the OpenAI-compatible API is stateless);
    it is masked like the message and used when there is no ``conversation``. ``max_tokens`` is the
    caller's own cap on the answer's length (the OpenAI-compatible API's): it lowers the agent's, never
    raises it; a retrieval-only answer is cut to it. Raises
    ``AgentNotAvailable`` (answer 404), ``RunInputInvalid`` (a sentence for the caller) or
    ``QuotaExceeded`` (answer 429 with its ``retry_after``) before any run is stored; after that nothing raises except a bug, and even then the run is closed first.
    ``io`` says how the steps run (``driving.SERVING`` on an event loop, ``driving.INLINE`` in place).
    """
    # The checks and storing the run are one blocking step: each step is a hop to a thread and a
    # connection borrowed from the pool, and nothing is yielded between the two.
    execution, started = await io.blocking(
        _begin,
        principal=principal,
        agent=agent,
        message=message,
        form_values=form_values,
        conversation=conversation,
        attachments=attachments,
        via=via,
        draft=draft,
        version=version,
        regenerate=regenerate,
        history=history,
        max_tokens=max_tokens,
    )
    execution.io = io
    yield started
    try:
        async for event in execution.body():
            yield event
    except (GeneratorExit, asyncio.CancelledError):
        await io.blocking(execution.close, Run.Status.INCOMPLETE, _("调用方提前断开，回答未完成。"))
        raise
    except Exception:
        log.exception("run %s failed", execution.run.pk)
        await io.blocking(execution.close, Run.Status.FAILED, _("运行出错，请稍后重试；如果反复出现，请联系管理员。"))
        raise
    yield RunFinished(execution.run)


def _begin(**kwargs) -> tuple[_Execution, RunStarted]:
    """``_prepare`` and then ``_Execution.open``: the run checked, then stored."""
    execution, start = _prepare(**kwargs)
    return execution, execution.open(**start)


def _prepare(
    *,
    principal,
    agent,
    message,
    form_values,
    conversation,
    attachments,
    via,
    draft,
    version,
    regenerate,
    history,
    max_tokens,
) -> tuple[_Execution, dict]:
    """Everything checked before a run is stored (see ``run_astream``'s refusals), and its execution."""
    snapshot, version = agent_resolve(principal=principal, agent=agent, draft=draft, version=version)
    api_key = principal if getattr(principal, "is_api_key", False) else None
    if api_key is not None:
        user = None
    else:
        user = principal if getattr(principal, "is_authenticated", False) else getattr(principal, "user", None)
    if conversation is not None and (
        conversation.agent_id != agent.pk
        or conversation.user_id != getattr(user, "pk", None)
        or conversation.api_key_id != getattr(api_key, "pk", None)
    ):
        raise AgentNotAvailable()
    message = (message or "").strip()
    attachments = [a for a in (attachments or []) if (a.get("text") or "").strip()]
    system_text = prompting.form_render(snapshot=snapshot, values=form_values or {})
    if not message and not (form_values or {}) and not attachments:
        raise RunInputInvalid(_("请输入问题、填写表单或上传附件。"))
    quota_check(
        department_id=caller_department_id(principal=principal, agent=agent),
        api_key=api_key,
        user_id=getattr(user, "pk", None),
    )

    execution = _Execution(
        principal=principal,
        user=user,
        api_key=api_key,
        supplied_history=history,
        max_tokens=max_tokens,
        agent=agent,
        snapshot=snapshot,
        version=version,
        conversation=conversation,
        via=via,
        regenerate=regenerate,
    )
    start = {
        "message": message,
        "form_values": form_values or {},
        "attachments": attachments,
        "system_text": system_text,
    }
    return execution, start


class _Execution:
    """The state of one run while it executes."""

    def __init__(
        self,
        *,
        principal,
        user,
        agent,
        snapshot,
        version,
        conversation,
        via,
        regenerate=None,
        api_key=None,
        supplied_history=None,
        max_tokens=None,
    ):
        self.max_tokens = max_tokens
        self.regenerate = regenerate
        self.api_key = api_key
        self.supplied_history = supplied_history or []
        self.principal = principal
        self.user = user
        self.agent = agent
        self.snapshot = snapshot
        self.version = version
        self.conversation = conversation
        self.via = via
        guards = snapshot.get("guardrails") or {}
        self.masker: Masker | None = None
        if guards.get("mask_personal_data", True):
            mapping = json.loads(conversation.mask_mapping or "{}") if conversation else {}
            self.masker = Masker(mapping=mapping)
        self.words = guardrails.WordLists.for_snapshot(snapshot)
        self.answer_filter = guardrails.StreamWordFilter(self.words)
        self.reasoning_filter = guardrails.StreamWordFilter(self.words)
        self.answer = ""
        self.reasoning = ""
        self.steps: list[dict] = []
        self.hits: list[dict] = []
        self.endpoints: dict[int, ModelEndpoint] = {}
        self.started = time.perf_counter()
        self.first_output: float | None = None
        self.last_save = self.started
        self.last_cancel_check = self.started
        self.run: Run | None = None
        self.io = INLINE
        # What the model loop or the output check ended with: (status, error).
        self.outcome: tuple[str, str] = (Run.Status.SUCCEEDED, "")

    # ------------------------------------------------------------------ setup

    def mask(self, text: str) -> str:
        return self.masker.mask(text) if self.masker and text else text

    def open(self, *, message, form_values, attachments, system_text) -> RunStarted:
        """Mask what came in and store the run (status "running")."""
        masked_message = self.mask(message)
        masked_form = {k: self.mask(str(v)) if v is not None else "" for k, v in form_values.items()}
        masked_attachments = [{"name": a.get("name", ""), "text": self.mask(a["text"])} for a in attachments]
        self.system_text = self.mask(system_text)
        self.question = masked_message
        self.attachments = masked_attachments
        self.targets = self._targets()
        # Review guards generated text; a retrieval-only answer quotes the documents and deterministic
        # tools verbatim, so it is delivered at once. A test set's run is delivered to nobody: graded, not reviewed.
        requires_review = (
            bool((self.snapshot.get("guardrails") or {}).get("requires_review"))
            and bool(self.targets)
            and self.via != Run.Via.EVAL
        )
        self.run = Run.objects.create(
            department_id=self.agent.department_id,
            caller_department_id=caller_department_id(principal=self.principal, agent=self.agent),
            agent=self.agent,
            version=self.version,
            conversation=self.conversation,
            regenerated_from=self.regenerate,
            user=self.user,
            api_key=self.api_key,
            via=self.via,
            input_text=masked_message,
            form_values=masked_form,
            attachments=[{"name": a["name"], "chars": len(a["text"]), "text": a["text"]} for a in masked_attachments],
            retrieval_only=not self.targets,
            ai_label=(self.snapshot.get("guardrails") or {}).get("ai_label", True),
            review_required=requires_review,
        )
        return RunStarted(
            self.run,
            retrieval_only=not self.targets,
            requires_review=requires_review,
            mapping=(lambda: self.masker.mapping) if self.masker else dict,
        )

    def _targets(self) -> list[Target]:
        model = self.snapshot.get("model") or {}
        wanted = [
            (model.get("endpoint_id"), model.get("model_name")),
            (model.get("fallback_endpoint_id"), model.get("fallback_model_name")),
        ]
        ids = [pk for pk, name in wanted if pk and name]
        usable = {
            e.pk: e
            for e in ModelEndpoint.objects.restrict(DepartmentPrincipal(self.agent.department_id), Action.USE).filter(
                pk__in=ids,
                is_active=True,
                kind=ModelEndpoint.Kind.CHAT,
            )
        }
        self.endpoints = usable
        return [Target(endpoint=usable[pk], model=name) for pk, name in wanted if pk in usable and name]

    # ------------------------------------------------------------------ the run

    async def body(self) -> AsyncIterator[RunEvent]:
        has_knowledge, messages = await self.io.blocking(self._retrieve_and_prompt)
        if self.hits:
            yield Sources(self.hits)
        if not self.targets:
            async for event in self._retrieval_only(has_knowledge=has_knowledge):
                yield event
            await self.io.blocking(self.close, *self.outcome)
            return
        async for event in self._converse(messages):
            yield event
        if self.outcome[0] == Run.Status.SUCCEEDED:
            async for event in self._check_output(messages):
                yield event
        await self.io.blocking(self.close, *self.outcome)

    def _retrieve_and_prompt(self) -> tuple[bool, list[dict] | None]:
        """``_retrieve``, then the prompt when a model will answer: one blocking step, not two."""
        has_knowledge = self._retrieve()
        return has_knowledge, self._messages() if self.targets else None

    def _retrieve(self) -> bool:
        """The passages for the prompt and the tools the run may call; whether the agent has knowledge."""
        knowledge_bases = list(readable_knowledge_bases(snapshot=self.snapshot, department_id=self.agent.department_id))
        self.kb_ids = [kb.pk for kb in knowledge_bases]
        query = self.question or " ".join(v for v in self.run.form_values.values() if v)[:500]
        if knowledge_bases and query.strip():
            hits = retrieve(knowledge_bases=knowledge_bases, query=query, top_k=RETRIEVE_TOP_K)
            self.hits = [self._hit_dict(n, hit) for n, hit in enumerate(hits, 1)]
            self.run.retrieved = self.hits
        self.tools = {t.function_name: t for t in self._tools()}
        return bool(knowledge_bases)

    def _messages(self) -> list[dict]:
        messages = prompting.build_messages(
            system_text=self.system_text,
            snapshot=self.snapshot,
            hits=self.hits,
            history=self._history(),
            question=self.question,
            attachments=self.attachments,
        )
        self.run.prompt_messages = messages
        return messages

    def _hit_dict(self, n, hit) -> dict:
        reranked = {} if hit.rerank_score is None else {"rerank_score": round(hit.rerank_score, 6)}
        if hit.approved_answer_id:
            reranked["approved_answer_id"] = hit.approved_answer_id
        return reranked | {
            "n": n,
            "passage_id": hit.passage_id,
            "document_id": hit.document_id,
            "document_title": hit.document_title,
            "document_number": hit.document_number,
            "knowledge_base_id": hit.knowledge_base_id,
            "heading_path": hit.heading_path,
            "page": hit.page,
            "citation": hit.citation,
            "text": self.mask(hit.text),
            "score": round(hit.score, 6),
        }

    def _tools(self) -> list[Tool]:
        ids = [t["id"] for t in self.snapshot.get("tools") or []]
        if not ids:
            return []
        return list(
            Tool.objects.restrict(DepartmentPrincipal(self.agent.department_id), Action.USE)
            .filter(pk__in=ids, is_active=True)
            .select_related("mcp_server")
            .order_by("pk")
        )

    def _history(self) -> list[tuple[str, str]]:
        if self.conversation is None:
            return [(self.mask(asked), self.mask(answered)) for asked, answered in self.supplied_history]
        turns = []
        earlier = (
            self.conversation.runs.exclude(pk=self.run.pk)
            .exclude(pk=getattr(self.regenerate, "pk", None))
            .filter(status__in=[Run.Status.SUCCEEDED, Run.Status.INCOMPLETE], regenerations__isnull=True)
            .order_by("started_at")
        )
        for run in earlier:
            answer, _source = delivered(run)
            if answer:
                turns.append((run.input_text or _("（已填写表单）"), answer))
        return turns

    def _tool_context(self) -> ToolContext:
        return ToolContext(
            department_id=self.agent.department_id,
            principal=self.principal,
            knowledge_base_ids=self.kb_ids,
            masker=self.masker,
            complete=self._complete if self.targets else None,
        )

    def _complete(self, messages: list[dict]) -> str:
        """One non-streaming model call on the run's behalf (tools that need the model use it)."""
        completed = chat_complete(targets=self.targets, messages=messages, **self._model_options())
        self._count(completed)
        return completed.text

    def _model_options(self) -> dict:
        model = self.snapshot.get("model") or {}
        max_tokens = int(model.get("max_tokens") or 2000)
        return {
            "temperature": float(model.get("temperature") or 0.3),
            "max_tokens": min(max_tokens, self.max_tokens) if self.max_tokens else max_tokens,
        }

    def _run_tool(self, *, tool: Tool | None, name: str, arguments, call_id: str = "") -> dict:
        number = len(self.steps) + 1
        if tool is None:
            step = {
                "n": number,
                "id": call_id,
                "tool": name,
                "name": name,
                "builtin": "",
                "arguments": arguments,
                "ok": False,
                "error": _("没有名为“%(name)s”的工具。") % {"name": name},
                "content": "",
                "result": None,
                "elapsed_ms": 0,
            }
            step["content"] = json.dumps({"error": step["error"]}, ensure_ascii=False)
        else:
            outcome = tool_execute(tool=tool, arguments=arguments, context=self._tool_context())
            try:
                parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
            except json.JSONDecodeError:
                parsed = arguments
            step = {
                "n": number,
                "id": call_id,
                "tool": tool.function_name,
                "name": tool.name,
                "builtin": tool.builtin,
                "arguments": parsed,
                "ok": outcome.ok,
                "error": outcome.error,
                "content": outcome.content,
                "result": _trim(outcome.data),
                "citations": outcome.citations,
                "elapsed_ms": outcome.elapsed_ms,
            }
        self.steps.append(step)
        self.run.steps = self.steps
        return step

    async def _retrieval_only(self, *, has_knowledge: bool) -> AsyncIterator[RunEvent]:
        direct = []
        # The caller's own text (the message and attached files) is what the tools work on; long
        # form fields (a pasted ticket or transcript) too, except for the format checker: a drafting
        # form's fields are instructions, not a document to check.
        own_text = "\n\n".join(p for p in [self.question, *(a["text"] for a in self.attachments)] if p.strip())
        long_fields = {
            v["name"] for v in self.snapshot["template"]["variables"] if v.get("type") in ("long_text", "file")
        }
        field_text = "\n".join(v for k, v in self.run.form_values.items() if k in long_fields and v)
        for tool in self.tools.values():
            if tool.builtin not in retrieval_only.DIRECT_TOOLS:
                continue
            texts = [own_text or ("" if tool.builtin == "document_format_check" else field_text)]
            if tool.builtin == "document_format_check" and self.attachments:
                # An uploaded document (.docx, .ofd …) is checked on its own, line numbers its own;
                # the message beside it is what to do, not part of the document.
                texts = [a["text"] for a in self.attachments]
            for text in texts:
                if not text.strip():
                    continue
                step = await self.io.blocking(
                    self._run_tool, tool=tool, name=tool.function_name, arguments={"text": text}
                )
                direct.append(step)
                yield ToolStep(step)
        answer = retrieval_only.compose(hits=self.hits, tool_steps=direct, has_knowledge=has_knowledge)
        # The caller's length cap, with no tokenizer here: a character is at most one token (a Chinese
        # character is about one; English words are several characters each), so the cut never overshoots.
        if self.max_tokens and len(answer) > self.max_tokens:
            answer = answer[: self.max_tokens]
            self.outcome = (Run.Status.INCOMPLETE, _("回答达到最大长度限制被截断。"))
        answer, blocked_by = guardrails.filter_text(answer, self.words)
        if blocked_by:
            self._block(blocked_by)
            yield AnswerReplaced(self.answer)
            return
        # Streamed in pieces like a model's answer, so every interface shows it the same way.
        for start in range(0, len(answer), 64):
            for event in self._emit_raw(answer[start : start + 64]):
                yield event

    # ------------------------------------------------------------------ the model

    async def _converse(self, messages: list[dict]) -> AsyncIterator[RunEvent]:
        """The model loop with tools; ends with ``self.outcome`` set."""
        definitions = tool_definitions(self.tools.values()) if self.tools else None
        max_steps = int(self.snapshot.get("max_tool_steps") or 0)
        rounds = 0
        while True:
            offer_tools = definitions if definitions and rounds < max_steps else None
            answer_start, reasoning_start = len(self.answer), len(self.reasoning)
            raw_text = raw_reasoning = ""
            try:
                completed = None
                stream = self.io.chat_stream(
                    targets=self.targets,
                    messages=messages,
                    tools=offer_tools,
                    response_format=self._response_format(),
                    stall_seconds=_stall_seconds(),
                    **self._model_options(),
                )
                async with aclosing(stream):
                    async for event in stream:
                        if isinstance(event, TextDelta):
                            raw_text += event.text
                            for shown in self._emit(event.text):
                                yield shown
                            if self.answer_filter.blocked_by:
                                break
                        elif isinstance(event, ModelReasoning):
                            raw_reasoning += event.text
                            shown = self.reasoning_filter.feed(event.text)
                            if shown:
                                self._first_output()
                                self.reasoning += shown
                                yield ReasoningDelta(shown)
                        elif isinstance(event, Completed):
                            completed = event
                        if self._partial_due():
                            await self.io.blocking(self._save_partial)
                        if self._cancel_due() and await self.io.blocking(self._cancel_requested):
                            break
            except StreamBroken as exc:
                self._count_partial(exc)
                for event in self._flush():
                    yield event
                status = Run.Status.INCOMPLETE if (exc.incomplete or self.answer) else Run.Status.FAILED
                self.outcome = (status, exc.message)
                return
            except ModelError as exc:
                for event in self._flush():
                    yield event
                if context_too_long(exc):
                    # What callers tell apart (OpenAI's context_length_exceeded): shorten it, don't retry it.
                    self.run.guardrails = {**self.run.guardrails, "model_error": "context_length_exceeded"}
                self.outcome = (Run.Status.FAILED, exc.message)
                return
            if self.answer_filter.blocked_by:
                self._block(self.answer_filter.blocked_by)
                yield AnswerReplaced(self.answer)
                self.outcome = (Run.Status.BLOCKED, "")
                return
            if completed is None:  # stopped by the requester
                for event in self._flush():
                    yield event
                self.outcome = (Run.Status.INCOMPLETE, _("已停止生成。"))
                return
            self._count(completed)
            for event in self._flush():
                yield event
            if completed.reasoning != raw_reasoning:
                self.reasoning = (
                    self.reasoning[:reasoning_start] + guardrails.filter_text(completed.reasoning, self.words)[0]
                )
            if completed.text != raw_text:
                # Text streamed before a closing </think> turned out to be reasoning: the answer is corrected.
                corrected, blocked_by = guardrails.filter_text(completed.text, self.words)
                if blocked_by:
                    self._block(blocked_by)
                    yield AnswerReplaced(self.answer)
                    self.outcome = (Run.Status.BLOCKED, "")
                    return
                self.answer = self.answer[:answer_start] + corrected
                yield AnswerReplaced(self.answer)
            if completed.tool_calls and offer_tools:
                rounds += 1
                messages.append(
                    {
                        "role": "assistant",
                        "content": completed.text or None,
                        "tool_calls": [
                            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                            for c in completed.tool_calls
                        ],
                    }
                )
                for call in completed.tool_calls:
                    step = await self.io.blocking(
                        self._run_tool,
                        tool=self.tools.get(call.name),
                        name=call.name,
                        arguments=call.arguments,
                        call_id=call.id,
                    )
                    self._first_output()
                    yield ToolStep(step)
                    messages.append({"role": "tool", "tool_call_id": call.id, "content": step["content"]})
                continue
            for event in self._flush():
                yield event
            if completed.finish_reason == "length":
                self.outcome = (Run.Status.INCOMPLETE, _("回答达到最大长度限制被截断。"))
            else:
                self.outcome = (Run.Status.SUCCEEDED, "")
            return

    def _response_format(self) -> dict | None:
        output = self.snapshot.get("output") or {}
        return {"type": "json_object"} if output.get("mode") == "structured" else None

    async def _check_output(self, messages: list[dict]) -> AsyncIterator[RunEvent]:
        """Structured agents: the answer must match the schema, after at most one repair (sets ``outcome``)."""
        output = self.snapshot.get("output") or {}
        self.outcome = (Run.Status.SUCCEEDED, "")
        if output.get("mode") != "structured" or not output.get("schema"):
            return
        schema = output["schema"]
        data, problem = guardrails.parse_structured(self.answer, schema)
        if data is None:
            repair = {"problem": problem}
            try:
                completed = await self.io.chat_complete(
                    targets=self.targets,
                    messages=guardrails.repair_messages(
                        messages=messages, answer=self.answer, problem=problem, schema=schema
                    ),
                    response_format=self._response_format(),
                    **self._model_options(),
                )
            except ModelError as exc:
                repair["error"] = exc.message
                self.run.guardrails = {**self.run.guardrails, "schema_repair": repair}
                self.outcome = (
                    Run.Status.FAILED,
                    _("结构化结果不符合要求，修复时模型调用失败：%(reason)s") % {"reason": exc.message},
                )
                return
            self._count(completed)
            text, blocked_by = guardrails.filter_text(completed.text, self.words)
            if blocked_by:
                self._block(blocked_by)
                yield AnswerReplaced(self.answer)
                self.outcome = (Run.Status.BLOCKED, "")
                return
            data, second_problem = guardrails.parse_structured(text, schema)
            repair["repaired"] = data is not None
            self.run.guardrails = {**self.run.guardrails, "schema_repair": repair}
            self.answer = text
            yield AnswerReplaced(text)
            if data is None:
                self.outcome = (
                    Run.Status.FAILED,
                    _("结构化结果不符合要求（已尝试修复一次）：%(problem)s") % {"problem": second_problem},
                )
                return
        self.run.output_data = data

    # ------------------------------------------------------------------ output

    def _first_output(self) -> None:
        if self.first_output is None:
            self.first_output = time.perf_counter()

    def _emit(self, text: str) -> Iterator[RunEvent]:
        shown = self.answer_filter.feed(text)
        if shown:
            yield from self._emit_raw(shown)

    def _emit_raw(self, shown: str) -> Iterator[RunEvent]:
        self._first_output()
        self.answer += shown
        yield AnswerDelta(shown)

    def _flush(self) -> Iterator[RunEvent]:
        tail = self.answer_filter.flush()
        if tail:
            yield from self._emit_raw(tail)
        reasoning_tail = self.reasoning_filter.flush()
        if reasoning_tail:
            self.reasoning += reasoning_tail
            yield ReasoningDelta(reasoning_tail)

    def _block(self, word: str) -> None:
        self.answer = _("该回答包含不允许输出的内容，已被拦截。如有疑问，请联系部门管理员。")
        self.run.guardrails = {**self.run.guardrails, "blocked_by": word}

    def _cancel_due(self) -> bool:
        """Whether to look up a stop request now (at most every CANCEL_CHECK_SECONDS)."""
        now = time.perf_counter()
        if now - self.last_cancel_check < CANCEL_CHECK_SECONDS:
            return False
        self.last_cancel_check = now
        return True

    def _cancel_requested(self) -> bool:
        return Run.objects.filter(pk=self.run.pk, cancel_requested=True).exists()

    def _partial_due(self) -> bool:
        """Whether to save the partial answer now (every SAVE_EVERY_SECONDS)."""
        now = time.perf_counter()
        if now - self.last_save < SAVE_EVERY_SECONDS:
            return False
        self.last_save = now
        return True

    def _save_partial(self) -> None:
        Run.objects.filter(pk=self.run.pk, status=Run.Status.RUNNING).update(
            answer=self.answer, reasoning=self.reasoning
        )

    def _count(self, completed: Completed | None) -> None:
        if completed is not None:
            self._add_usage(
                completed.usage, completed.endpoint_id, completed.model, estimated=completed.usage.estimated
            )

    def _count_partial(self, exc: StreamBroken) -> None:
        usage = getattr(exc, "usage", None)
        if usage is not None:
            self._add_usage(usage, getattr(exc, "endpoint_id", None), getattr(exc, "model", ""), estimated=True)

    def _add_usage(self, usage, endpoint_id, model: str, *, estimated: bool) -> None:
        """One model call's tokens and cost, added to the run (a broken stream's usage is an estimate)."""
        run = self.run
        run.model_calls += 1
        run.input_tokens += usage.input_tokens
        run.output_tokens += usage.output_tokens
        run.tokens_estimated = run.tokens_estimated or estimated
        run.model_name = model or run.model_name
        endpoint = self.endpoints.get(endpoint_id)
        if endpoint is not None:
            run.endpoint, run.endpoint_name = endpoint, endpoint.name
            run.cost += _cost(endpoint, usage.input_tokens, usage.output_tokens)

    # ------------------------------------------------------------------ the end

    def close(self, status: str, error: str = "") -> None:
        """Store the outcome and the trace, queue for review when required, and meter the run once."""
        run = self.run
        if run is None or run.status != Run.Status.RUNNING:
            return
        now = time.perf_counter()
        run.status = status
        run.error = error
        run.answer = self.answer
        run.reasoning = self.reasoning
        run.retrieved = self.hits
        run.steps = self.steps
        run.finished_at = timezone.now()
        run.latency_ms = round((now - self.started) * 1000)
        if self.first_output is not None:
            run.ttft_ms = round((self.first_output - self.started) * 1000)
        if self.answer_filter.masked or self.reasoning_filter.masked:
            masked = dict(self.answer_filter.masked)
            for word, count in self.reasoning_filter.masked.items():
                masked[word] = masked.get(word, 0) + count
            run.guardrails = {**run.guardrails, "masked_words": masked}
        # Whatever ended the run (a broken stream, a stop, a block), text it produced waits for review.
        if run.review_required and (self.answer or self.reasoning):
            run.review_status = Run.Review.PENDING
        if self.masker is not None:
            run.mask_mapping = json.dumps(self.masker.mapping, ensure_ascii=False)
        # Only a run that is still "running" is closed (the watchdog may have closed it meanwhile).
        values = {
            f.attname: getattr(run, f.attname)
            for f in Run._meta.concrete_fields
            if not f.primary_key and f.name not in ("metered_at", "started_at")
        }
        Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING).update(**values)
        if self.conversation is not None:
            self._update_conversation()
        run_meter(run=run)

    def _update_conversation(self) -> None:
        conversation = self.conversation
        if self.masker is not None:
            conversation.mask_mapping = json.dumps(self.masker.mapping, ensure_ascii=False)
        if not conversation.title:
            conversation.title = (self.run.input_text or self.agent.name)[:40]
        conversation.save(update_fields=["mask_mapping", "title", "updated_at"])


def _cost(endpoint: ModelEndpoint, input_tokens: int, output_tokens: int) -> Decimal:
    return (
        Decimal(input_tokens) * endpoint.price_input_per_1k + Decimal(output_tokens) * endpoint.price_output_per_1k
    ) / 1000


def _trim(data):
    text = json.dumps(data, ensure_ascii=False, default=str)
    if len(text) <= TOOL_RESULT_CHARS:
        return data
    return {"truncated": True, "preview": text[:TOOL_RESULT_CHARS]}


def _stall_seconds() -> float:
    from django.conf import settings

    return settings.SHUZHI_STREAM_STALL_SECONDS

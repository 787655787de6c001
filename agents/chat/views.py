"""The staff workspace (agents, conversations, chat) and the reviewers' queue. Views stay thin: the
runtime runs agents, services change things, presenters shape what a viewer may see."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from agents import labels
from agents.catalog.areas import Area
from agents.models import Agent, Conversation, KnowledgeBase, Passage, Run
from agents.runtime.access import AgentNotAvailable
from agents.runtime.display import run_trace
from agents.runtime.prompting import RunInputInvalid
from agents.runtime.review import (
    CORRECTABLE,
    Decision,
    correction_knowledge_bases,
    review_queue,
    reviewed_by_me,
    run_correction_save,
    run_review,
)
from agents.runtime.visibility import Viewer, visible_run
from tenants.access import requires
from tenants.quotas import QuotaExceeded
from tenants.roles import Action
from tenants.selectors import departments_for, may, user_label

from . import services, streaming
from .forms import CorrectionForm
from .presenters import turn


@requires(Action.USE)
def workspace(request):
    query, area = request.GET.get("q", ""), request.GET.get("area", "")
    context = {
        "my_department_ids": {d.pk for d in departments_for(user=request.user, action=Action.USE)},
        "agents": services.agents_for(user=request.user, query=query, area=area),
        "recent": services.recent_agents(user=request.user),
        "conversations": services.conversations_for(user=request.user, query=request.GET.get("cq", ""))[:50],
        "areas": Area.choices,
        "query": query,
        "area": area,
        "conversation_query": request.GET.get("cq", ""),
    }
    if request.htmx and request.htmx.target == "conversation-list":
        return render(request, "agents/chat/workspace.html#conversations", context)
    return render(request, "agents/chat/workspace.html", context)


def _own_conversation(request, conversation_id) -> Conversation:
    return get_object_or_404(Conversation.objects.owned_by(request.user).select_related("agent"), pk=conversation_id)


def _own_run(request, run_id) -> Run:
    return get_object_or_404(
        Run.objects.owned_by(request.user).select_related("agent", "conversation"),
        pk=run_id,
        conversation__is_deleted=False,
    )


@requires(Action.USE)
def agent_start(request, agent_id):
    """A new conversation with an agent the user may use (another agent answers 404)."""
    agent = get_object_or_404(Agent.objects.usable_by(request.user), pk=agent_id)
    return render(request, "agents/chat/chat.html", _chat_context(request, agent=agent, conversation=None))


@requires(Action.USE)
def conversation(request, conversation_id):
    conv = _own_conversation(request, conversation_id)
    if not Agent.objects.usable_by(request.user).filter(pk=conv.agent_id).exists():
        messages.warning(request, _("此智能体已不再分配给您，只能查看以往的对话。"))
    return render(request, "agents/chat/chat.html", _chat_context(request, agent=conv.agent, conversation=conv))


def _chat_context(request, *, agent, conversation) -> dict:
    version = agent.current_version
    variables = version.snapshot["template"]["variables"] if version else []
    turns = (
        [turn(run=r, user=request.user) for r in services.conversation_runs(conversation=conversation)]
        if conversation
        else []
    )
    return {
        "agent": agent,
        "conversation": conversation,
        "variables": variables,
        "turns": turns,
        "send_url": reverse("chat:send", args=[agent.pk])
        + (f"?conversation={conversation.pk}" if conversation else ""),
        "usable": Agent.objects.usable_by(request.user).filter(pk=agent.pk).exists(),
    }


async def send(request, agent_id):
    """Run the agent on the posted message and stream the answer as server-sent events."""
    if request.method != "POST":
        return HttpResponse(status=405)
    user = await request.auser()
    if not user.is_authenticated or not await sync_to_async(may)(user=user, action=Action.USE):
        raise Http404
    try:
        run_kwargs = await sync_to_async(_run_kwargs)(request, user, agent_id)
    except ValidationError as exc:
        return JsonResponse({"error": " ".join(exc.messages)}, status=400)
    return await _stream(request, user, run_kwargs)


async def regenerate(request, run_id):
    if request.method != "POST":
        return HttpResponse(status=405)
    user = await request.auser()
    if not user.is_authenticated:
        raise Http404
    run_kwargs = await sync_to_async(_regenerate_kwargs)(user, run_id)
    return await _stream(request, user, run_kwargs)


async def _stream(request, user, run_kwargs):
    created = run_kwargs.pop("created_conversation", False)
    try:
        events = await streaming.start(run_kwargs=run_kwargs)
    except streaming.RunRefused as exc:
        if created:  # nothing was said in it: no empty conversation stays behind
            await Conversation.objects.filter(pk=run_kwargs["conversation"].pk).adelete()
        if isinstance(exc.original, AgentNotAvailable):
            raise Http404 from None
        if isinstance(exc.original, RunInputInvalid):
            return JsonResponse({"error": str(exc.original)}, status=400)
        if isinstance(exc.original, QuotaExceeded):
            response = JsonResponse({"error": str(exc.original)}, status=429)
            response["Retry-After"] = str(exc.original.retry_after)
            return response
        raise exc.original from None
    response = StreamingHttpResponse(
        streaming.sse(events=events, user=user, request=request), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def _run_kwargs(request, user, agent_id) -> dict:
    agent = Agent.objects.usable_by(user).filter(pk=agent_id).select_related("current_version").first()
    if agent is None:
        raise Http404
    conversation_id = request.GET.get("conversation")
    if conversation_id:
        conv = Conversation.objects.owned_by(user).filter(pk=conversation_id, agent=agent).first()
        if conv is None:
            raise Http404
    else:
        conv = None
    variables = agent.current_version.snapshot["template"]["variables"]
    form_values = {v["name"]: request.POST.get(f"var_{v['name']}", "") for v in variables}
    attachments = services.attachments_parse(files=request.FILES.getlist("attachments"))
    created = conv is None
    if created:
        conv = services.conversation_start(user=user, agent=agent)
    return {
        "created_conversation": created,
        "principal": user,
        "agent": agent,
        "conversation": conv,
        "message": request.POST.get("message", ""),
        "form_values": {k: v for k, v in form_values.items() if v.strip()} if variables else {},
        "attachments": attachments,
        "via": Run.Via.CHAT,
    }


def _regenerate_kwargs(user, run_id) -> dict:
    run = (
        Run.objects.owned_by(user)
        .filter(pk=run_id, conversation__is_deleted=False, conversation__isnull=False)
        .select_related("agent", "conversation")
        .first()
    )
    if run is None or run.status == Run.Status.RUNNING:
        raise Http404
    return {
        "principal": user,
        "agent": run.agent,
        "conversation": run.conversation,
        "message": run.input_text,
        "form_values": run.form_values,
        "attachments": [{"name": a.get("name", ""), "text": a.get("text", "")} for a in run.attachments or []],
        "via": Run.Via.CHAT,
        "regenerate": run,
    }


@requires(Action.USE)
@require_POST
def run_stop(request, run_id):
    run = _own_run(request, run_id)
    services.run_stop(run=run, user=request.user)
    return HttpResponse(status=204)


@requires(Action.USE)
def run_turn(request, run_id):
    """One turn, re-rendered (htmx polls it while a run is still going after a reload)."""
    run = _own_run(request, run_id)
    return render(request, "agents/chat/_turn.html", {"t": turn(run=run, user=request.user)})


@requires(Action.USE)
@require_POST
def run_rate(request, run_id):
    run = _own_run(request, run_id)
    try:
        services.run_rate(
            run=run,
            user=request.user,
            rating=int(request.POST.get("rating") or 0),
            comment=request.POST.get("comment", ""),
        )
    except (ValueError, ValidationError):
        return HttpResponse(_("请选择“有帮助”或“没帮助”。"), status=400)
    return render(request, "agents/chat/_turn.html", {"t": turn(run=run, user=request.user)})


@requires(Action.USE)
@require_POST
def run_edit(request, run_id):
    run = _own_run(request, run_id)
    try:
        services.run_edit(run=run, user=request.user, text=request.POST.get("text", ""))
    except ValidationError as exc:
        return HttpResponse(" ".join(exc.messages), status=400)
    return render(request, "agents/chat/_turn.html", {"t": turn(run=run, user=request.user)})


@requires(Action.USE)
def run_docx(request, run_id):
    """The delivered document as .docx laid out by GB/T 9704, with the AI-generated label in its properties."""
    from .docx_export import document_docx

    run = _own_run(request, run_id)
    text = visible_run(run=run, viewer=request.user).text.strip()
    if not text:
        raise Http404
    lines = text.splitlines()
    title, body = lines[0].strip().strip("#* "), "\n".join(lines[1:])
    data = document_docx(
        title=title,
        body=body,
        ai_generated=run.ai_label,
        author=str(request.user),
        producer=labels.provider(),
        content_id=labels.content_id(run),
    )
    response = HttpResponse(
        data, content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    filename = f"{run.agent.name}-{run.pk}.docx"
    from urllib.parse import quote

    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return response


@requires(Action.USE)
def passage(request, passage_id):
    """A cited passage and its document's details, for users who may read its knowledge base."""
    item = get_object_or_404(
        Passage.objects.select_related("document", "document__knowledge_base"),
        pk=passage_id,
        knowledge_base__in=KnowledgeBase.objects.readable_by(request.user),
    )
    return render(request, "agents/chat/passage.html", {"passage": item, "document": item.document})


@requires(Action.USE)
@require_POST
def conversation_rename(request, conversation_id):
    conv = _own_conversation(request, conversation_id)
    try:
        services.conversation_rename(conversation=conv, title=request.POST.get("title", ""))
    except ValidationError as exc:
        return HttpResponse(" ".join(exc.messages), status=400)
    if request.htmx:
        return render(request, "agents/chat/_conversation_item.html", {"c": conv})
    return redirect("chat:conversation", conversation_id=conv.pk)


@requires(Action.USE)
@require_POST
def conversation_delete(request, conversation_id):
    conv = _own_conversation(request, conversation_id)
    services.conversation_delete(conversation=conv)
    if request.htmx:
        return HttpResponse("")
    return redirect("chat:workspace")


# --------------------------------------------------------------------------- requester's run page


@requires(Action.USE)
def run_detail(request, run_id):
    """A requester's own run: its status, and its answer once it may be used."""
    run = get_object_or_404(Run.objects.owned_by(request.user).select_related("agent"), pk=run_id)
    view = visible_run(run=run, viewer=request.user)
    return render(
        request,
        "agents/run_detail.html",
        {"run": run, "view": view, "question": view.show(run.input_text), "answer": view.text},
    )


# --------------------------------------------------------------------------- review


@requires(Action.REVIEW)
def review(request):
    return render(
        request,
        "agents/review.html",
        {
            "departments": departments_for(user=request.user, action=Action.REVIEW),
            "queue": _queue_items(request.user),
            "correctable": _correctable_items(request.user),
        },
    )


def _correctable_items(user) -> list[dict]:
    """The reviewer's latest edited or rejected runs: their corrections can still be kept as knowledge."""
    viewer = Viewer.of(user)
    runs = reviewed_by_me(user=user).filter(review_status__in=CORRECTABLE).select_related("agent")[:20]
    return [{"run": run, "preview": visible_run(run=run, viewer=viewer).show(run.input_text)} for run in runs]


def _queue_items(user) -> list[dict]:
    viewer = Viewer.of(user)
    return [
        {"run": run, "preview": visible_run(run=run, viewer=viewer).show(run.input_text)}
        for run in review_queue(user=user)[:200]
    ]


def _reviewable(request, run_id) -> Run:
    run = Run.objects.restrict(request.user, Action.REVIEW).select_related("agent", "version").filter(pk=run_id).first()
    if run is None or not run.review_status:
        raise Http404
    return run


@requires(Action.REVIEW)
def review_item(request, run_id):
    run = _reviewable(request, run_id)
    if request.method == "POST":
        return _decide(request, run)
    trace = run_trace(run=run, viewer=request.user)
    view = visible_run(run=run, viewer=request.user)
    return render(
        request,
        "agents/review_item.html",
        {
            "trace": trace,
            "run_user": user_label(user_id=run.user_id),
            "reviewer": user_label(user_id=run.reviewer_id) if run.reviewer_id else "",
            # The agent's admins turn the item into a test case in one click (the admin's own page does it).
            "can_make_case": Agent.objects.restrict(request.user, Action.MANAGE).filter(pk=run.agent_id).exists(),
            "knowledge_bases": correction_knowledge_bases(reviewer=request.user, run=run),
            "question": view.show(run.input_text),
            "corrected": view.final_text if run.review_status == Run.Review.EDITED else "",
            "correctable": run.review_status in CORRECTABLE,
            "saved": run.approved_answers.select_related("knowledge_base").order_by("-approved_at"),
        },
    )


def _decide(request, run):
    decision = request.POST.get("decision", "")
    try:
        run_review(
            run=run,
            reviewer=request.user,
            decision=decision,
            text=request.POST.get("text", ""),
            reason=request.POST.get("reason", ""),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("chat:review_item", run_id=run.pk)
    labels = {Decision.APPROVE: _("已通过。"), Decision.EDIT: _("已修改并通过。"), Decision.REJECT: _("已驳回。")}
    messages.success(request, labels[decision])
    wants_pair = request.POST.get("save_answer") and decision in (Decision.EDIT, Decision.REJECT)
    if wants_pair and not _save_correction(request, run, answer=request.POST.get("text", "")):
        return redirect("chat:review_item", run_id=run.pk)  # decided; the correction can be saved from there
    return redirect("chat:review")


def _save_correction(request, run, *, answer: str) -> bool:
    form = CorrectionForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return False
    try:
        run_correction_save(
            run=run,
            reviewer=request.user,
            knowledge_base_id=form.cleaned_data["knowledge_base"],
            question=form.cleaned_data["question"],
            answer=answer,
            effective_date=form.cleaned_data["effective_date"],
            expiry_date=form.cleaned_data["expiry_date"],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return False
    messages.success(request, _("已保存为经审核的问答，之后相近的提问将优先引用它。"))
    return True


@requires(Action.REVIEW)
@require_POST
def review_correction(request, run_id):
    """Save the corrected answer of an edited or rejected run as an approved question-and-answer pair."""
    run = _reviewable(request, run_id)
    _save_correction(request, run, answer=request.POST.get("answer", ""))
    return redirect("chat:review_item", run_id=run.pk)

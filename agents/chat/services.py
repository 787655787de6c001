"""What staff do in the workspace besides running agents: conversations, attachments, stop, rate, edit."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ..knowledge.parsing import ParseError, parse_document
from ..knowledge.uploads import upload_check, upload_refused
from ..models import Agent, Conversation, Run
from ..privacy.masking import Masker
from ..runtime.access import AgentNotAvailable, caller_department_id
from ..runtime.visibility import delivered

ATTACHMENT_MAX_MB = 10  # or SHUZHI_UPLOAD_MAX_MB when that is lower
ATTACHMENT_MAX_FILES = 5
ATTACHMENT_KINDS = ("pdf", "docx", "ofd", "txt", "md")
RATING_COMMENT_CHARS = 500


def conversation_start(*, user, agent: Agent) -> Conversation:
    """A new conversation of ``user`` with an agent they may use (AgentNotAvailable otherwise)."""
    if not Agent.objects.usable_by(user).filter(pk=agent.pk).exists():
        raise AgentNotAvailable()
    return Conversation.objects.create(
        department_id=caller_department_id(principal=user, agent=agent), user=user, agent=agent
    )


def conversation_rename(*, conversation: Conversation, title: str) -> Conversation:
    title = " ".join((title or "").split())[:200]
    if not title:
        raise ValidationError(_("标题不能为空。"))
    conversation.title = title
    conversation.save(update_fields=["title", "updated_at"])
    return conversation


def conversation_delete(*, conversation: Conversation) -> None:
    """Hide a conversation from its owner; the runs stay for traceability and usage reports."""
    conversation.is_deleted = True
    conversation.save(update_fields=["is_deleted", "updated_at"])


def attachments_parse(*, files) -> list[dict]:
    """Uploaded files as ``{"name", "text"}``; ValidationError says which file is wrong and why.

    Each file passes the one upload rule (``knowledge.uploads``: safe name, size, content matching
    its extension), the same file may not be attached twice, and its text must be readable.
    """
    files = list(files)
    if len(files) > ATTACHMENT_MAX_FILES:
        raise ValidationError(_("一次最多上传 %(n)s 个附件。") % {"n": ATTACHMENT_MAX_FILES})
    parsed = []
    seen: dict[str, str] = {}
    for upload in files:
        checked = upload_check(
            uploaded_file=upload,
            limit_mb=ATTACHMENT_MAX_MB,
            kinds=ATTACHMENT_KINDS,
            kinds_label=_("PDF、Word（.docx）、OFD、TXT 或 Markdown"),
        )
        if checked.sha256 in seen:
            raise upload_refused(
                name=checked.name,
                reason=_("与附件“%(other)s”内容相同，请只附加一次。") % {"other": seen[checked.sha256]},
                code="duplicate",
            )
        seen[checked.sha256] = checked.name
        try:
            document = parse_document(checked.data, checked.name)
        except ParseError as exc:
            raise upload_refused(name=checked.name, reason=str(exc)) from None
        parsed.append({"name": checked.name[:200], "text": "\n".join(block.text for block in document.blocks)})
    return parsed


def run_stop(*, run: Run, user) -> bool:
    """Ask a running run of ``user`` to stop; the pipeline notices within a second."""
    return bool(Run.objects.owned_by(user).filter(pk=run.pk, status=Run.Status.RUNNING).update(cancel_requested=True))


def run_rate(*, run: Run, user, rating: int, comment: str = "") -> Run:
    if run.user_id != user.pk:
        raise Run.DoesNotExist
    if rating not in (1, -1):
        raise ValidationError(_("请选择“有帮助”或“没帮助”。"))
    run.rating = rating
    run.rating_comment = (comment or "").strip()[:RATING_COMMENT_CHARS]
    run.rated_at = timezone.now()
    run.save(update_fields=["rating", "rating_comment", "rated_at"])
    return run


def run_edit(*, run: Run, user, text: str) -> Run:
    """Keep the requester's edit of a delivered document; personal data typed in is masked again.

    Only a delivered answer can be edited: one that waits for review, or was rejected, cannot (the
    reviewer decides on what the model wrote). The edit is shown as the requester's, not as reviewed.
    """
    text = (text or "").strip()
    with transaction.atomic():
        locked = Run.objects.owned_by(user).select_for_update().filter(pk=run.pk).first()
        if locked is None:
            raise Run.DoesNotExist
        text_now, _source = delivered(locked)
        if locked.status == Run.Status.RUNNING or not text_now:
            raise ValidationError(_("这条回答还不能编辑：审核通过或生成完成后才能编辑。"))
        if not text:
            raise ValidationError(_("文本不能为空。"))
        masker = Masker(mapping=json.loads(locked.mask_mapping or "{}"))
        locked.edited_text = masker.mask(text)
        locked.mask_mapping = json.dumps(masker.mapping, ensure_ascii=False)
        locked.save(update_fields=["edited_text", "mask_mapping"])
    run.edited_text, run.mask_mapping = locked.edited_text, locked.mask_mapping
    return run


# --------------------------------------------------------------------------- selectors


def conversations_for(*, user, query: str = ""):
    conversations = Conversation.objects.owned_by(user).select_related("agent")
    query = (query or "").strip()
    if query:
        conversations = conversations.filter(
            Q(title__icontains=query) | Q(runs__input_text__icontains=query) | Q(agent__name__icontains=query)
        ).distinct()
    return conversations.order_by("-updated_at")


def agents_for(*, user, query: str = "", area: str = ""):
    agents = Agent.objects.usable_by(user).select_related("department")
    query = (query or "").strip()
    if query:
        agents = agents.filter(Q(name__icontains=query) | Q(description__icontains=query))
    if area:
        agents = agents.filter(area=area)
    return agents.order_by("area", "name")


def recent_agents(*, user, limit: int = 6) -> list[Agent]:
    """Agents the user talked to most recently (still usable), newest first."""
    usable = {a.pk: a for a in Agent.objects.usable_by(user)}
    seen: list[Agent] = []
    for agent_id in Conversation.objects.owned_by(user).order_by("-updated_at").values_list("agent_id", flat=True)[:50]:
        if agent_id in usable and usable[agent_id] not in seen:
            seen.append(usable[agent_id])
        if len(seen) >= limit:
            break
    return seen


def conversation_runs(*, conversation: Conversation):
    """The turns shown in a conversation: each question's latest answer (regenerated ones replace older)."""
    return (
        conversation.runs.filter(regenerations__isnull=True)
        .select_related("agent", "version")
        .order_by("started_at", "pk")
    )

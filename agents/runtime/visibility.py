"""What a viewer may see of a run, decided in one place for every interface.

Tenancy (``tenants.scoping``) decides *which* runs a viewer reaches; this module decides what they
see *of* a run they reached: the workspace (stream, turn, conversation, run page, ``.docx``), the
REST and OpenAI-compatible endpoints (streamed or not), batch results, the review queue, the admin
trace and the leaders' drill-downs all ask :func:`visible_run` or :func:`visible_events`.

A viewer is an explicit :class:`Viewer`: a person, an API key or a department acting on its own
behalf. Towards one run a viewer is:

- the **requester**: the person or key that made it;
- an **overseer**: a reviewer or an admin of the agent's department (or a platform admin), who
  see the whole trace, draft included, because they review and audit it;
- a **reporter**: a leader (or admin) whose reports cover the run's caller department;
- **nobody**: everyone else, who must be answered 404 (``RunView.visible`` is False).

The rules:

- An answer that needs review (``Run.review_required``) is withheld, with its reasoning, until a
  reviewer approves it (as generated or edited), whatever the run's status: while it streams, while
  it waits, after a rejection, after a broken stream. Only the trace (``draft``, ``draft_reasoning``,
  ``final_text``), which overseers alone get, shows what the model wrote meanwhile.
- The delivered text is the requester's own later edit, else the reviewer's edit, else the answer;
  :attr:`RunView.text_source` says which, so that a requester's edit is never labelled as reviewed.
- Reasoning is delivered only with an answer delivered as generated: a reviewer's edit replaced
  the draft the reasoning leads to.
- Personal data is restored (placeholders unmasked) for an API key's own runs (the calling system
  sent it), for a batch's submitter on its rows (the file is theirs), and for members holding one
  of ``SHUZHI_UNMASK_ROLES`` in the run's or the caller's department; everyone else sees placeholders.
- Trace links: the admin trace for admins of the agent's department; the review page for its
  reviewers, on runs that needed review.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import StrEnum

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils.translation import gettext as _

from tenants.models import ApiKey, Membership
from tenants.roles import Action
from tenants.scoping import ALL, department_ids

from ..models import Run
from ..privacy.masking import unmask
from . import events as ev

_OPEN_PLACEHOLDER = re.compile(r"【[^【】]{0,40}$")


class Kind(StrEnum):
    PERSON = "person"
    API_KEY = "api_key"
    DEPARTMENT = "department"
    NOBODY = "nobody"


@dataclass(frozen=True)
class Viewer:
    """Who is looking: exactly one of a person, an API key or a department (or nobody at all)."""

    kind: Kind
    person: object = None
    api_key: ApiKey | None = None
    department_id: int | None = None

    @classmethod
    def of(cls, principal) -> Viewer:
        """The viewer for a request's principal: a User, an ApiKey, a department principal (anything
        with ``department_id`` and ``scope_department_ids``), or None / an anonymous user."""
        from tenants.models import User

        if isinstance(principal, Viewer):
            return principal
        if isinstance(principal, ApiKey):
            return cls(Kind.API_KEY, api_key=principal) if principal.is_active else cls(Kind.NOBODY)
        if isinstance(principal, User):
            return cls(Kind.PERSON, person=principal) if principal.is_active else cls(Kind.NOBODY)
        from .access import DepartmentPrincipal

        if isinstance(principal, DepartmentPrincipal):
            return cls(Kind.DEPARTMENT, department_id=principal.department_id)
        return cls(Kind.NOBODY)

    def departments(self, action: str) -> frozenset[int] | None:
        """Where this viewer may perform ``action`` (None: everywhere)."""
        if self.kind == Kind.PERSON:
            return department_ids(self.person, action)
        if self.kind == Kind.API_KEY:
            return self.api_key.scope_department_ids(action)
        if self.kind == Kind.DEPARTMENT:
            return frozenset({self.department_id})
        return frozenset()


def _within(ids: frozenset[int] | None, department_id: int | None) -> bool:
    return ids is ALL or (department_id is not None and department_id in ids)


# --------------------------------------------------------------------------- the viewer's relation


def is_requester(*, run: Run, viewer: Viewer) -> bool:
    if viewer.kind == Kind.PERSON:
        return run.user_id is not None and run.user_id == viewer.person.pk and run.api_key_id is None
    if viewer.kind == Kind.API_KEY:
        return run.api_key_id == viewer.api_key.pk
    return False


def is_overseer(*, run: Run, viewer: Viewer) -> bool:
    """A reviewer or admin of the agent's department (or a platform admin)."""
    if viewer.kind != Kind.PERSON:
        return False
    return _within(viewer.departments(Action.REVIEW), run.department_id) or _within(
        viewer.departments(Action.MANAGE), run.department_id
    )


def is_reporter(*, run: Run, viewer: Viewer) -> bool:
    """Someone whose usage reports cover the department the run was made from."""
    if viewer.kind != Kind.PERSON:
        return False
    return _within(viewer.departments(Action.REPORT), run.caller_department_id or run.department_id)


def may_see_personal_data(*, run: Run, viewer: Viewer) -> bool:
    """Whether placeholders are restored for ``viewer`` (see the module docstring)."""
    if viewer.kind == Kind.API_KEY:
        return run.api_key_id == viewer.api_key.pk
    if viewer.kind != Kind.PERSON:
        return False
    if run.via == Run.Via.BATCH and is_requester(run=run, viewer=viewer):
        return True
    entitled = _unmask_department_ids(viewer.person)
    return run.department_id in entitled or run.caller_department_id in entitled


def _unmask_department_ids(person) -> frozenset[int]:
    """The departments where ``person`` holds an unmasking role (looked up once per request's user,
    like the scoping cache, and forgotten with it)."""
    cache = person.__dict__.setdefault("_scope_cache", {})
    if "unmask" not in cache:
        cache["unmask"] = frozenset(
            Membership.objects.filter(
                user=person, role__in=settings.SHUZHI_UNMASK_ROLES, department__is_active=True
            ).values_list("department_id", flat=True)
        )
    return cache["unmask"]


def _mapping(run: Run, viewer: Viewer) -> dict[str, str]:
    if not run.mask_mapping or not may_see_personal_data(run=run, viewer=viewer):
        return {}
    return json.loads(run.mask_mapping)


# --------------------------------------------------------------------------- a stored run


class Source(StrEnum):
    """Which text is the delivered one."""

    NONE = ""
    ANSWER = "answer"  # the answer as generated (reviewed and approved, if it needed review)
    REVIEWER_EDIT = "reviewer_edit"
    REQUESTER_EDIT = "requester_edit"


def delivered(run: Run) -> tuple[str, Source]:
    """The text the requester may use, masked, and where it comes from; ("", NONE) while withheld."""
    if withheld(run):
        return "", Source.NONE
    if run.edited_text:
        return run.edited_text, Source.REQUESTER_EDIT
    if run.review_status == Run.Review.EDITED:
        return run.final_text, Source.REVIEWER_EDIT
    text = run.final_text if run.review_status == Run.Review.APPROVED else run.answer
    return (text, Source.ANSWER) if text else ("", Source.NONE)


def withheld(run: Run) -> bool:
    """Whether the answer awaits review or was rejected (or needs review and got none)."""
    if run.review_status in (Run.Review.PENDING, Run.Review.REJECTED):
        return True
    return run.review_required and run.review_status not in (Run.Review.APPROVED, Run.Review.EDITED)


def review_notice(run: Run) -> str:
    """What a requester is told instead of an answer they may not use yet (empty when they may)."""
    if not withheld(run):
        return ""
    if run.review_status == Run.Review.REJECTED:
        return _("该回答未通过人工审核。")
    if run.status == Run.Status.RUNNING:
        return _("该智能体的回答需要人工审核，生成完成并审核通过后才能使用。")
    if not run.review_status:  # a run that needed review but produced nothing to review
        return ""
    return _("该智能体的回答需要人工审核，审核通过后才能使用。请稍后凭运行编号 %(id)s 查询结果。") % {"id": run.pk}


@dataclass
class RunView:
    """A run as one viewer may see it. Texts are unmasked where the viewer is entitled.

    ``visible`` False: the viewer may not see the run at all (answer 404). ``text`` is the delivered
    text ("" while withheld), ``text_source`` where it comes from, ``reasoning`` the delivered
    reasoning; ``notice`` explains a withheld answer. The trace (``draft``, ``draft_reasoning``: what
    the model wrote; ``final_text``: what review delivered) is filled for overseers only.
    """

    run: Run
    viewer: Viewer
    visible: bool
    overseer: bool = False
    unmasked: bool = False
    withheld: bool = False
    text: str = ""
    text_source: Source = Source.NONE
    reasoning: str = ""
    draft: str = ""
    draft_reasoning: str = ""
    final_text: str = ""
    notice: str = ""
    data: dict | list | None = None
    trace_url: str | None = None
    review_url: str | None = None
    mapping: dict[str, str] = field(default_factory=dict, repr=False)

    def show(self, text: str | None) -> str:
        """Any other text of the run (question, form values, passages…) as this viewer sees it."""
        return unmask(text or "", self.mapping)

    @property
    def reviewed(self) -> bool:
        """The delivered text is what a reviewer approved (not the requester's own later edit)."""
        return self.text_source in (Source.ANSWER, Source.REVIEWER_EDIT) and self.run.review_status in (
            Run.Review.APPROVED,
            Run.Review.EDITED,
        )


def visible_run(*, run: Run, viewer) -> RunView:
    """``run`` as ``viewer`` (a :class:`Viewer` or a principal) may see it; see the module docstring."""
    from django.urls import reverse

    viewer = Viewer.of(viewer)
    requester = is_requester(run=run, viewer=viewer)
    overseer = is_overseer(run=run, viewer=viewer)
    if not (requester or overseer or is_reporter(run=run, viewer=viewer)):
        return RunView(run=run, viewer=viewer, visible=False)
    mapping = _mapping(run, viewer)
    text, source = delivered(run)
    held = withheld(run)
    view = RunView(
        run=run,
        viewer=viewer,
        visible=True,
        overseer=overseer,
        unmasked=bool(mapping),
        withheld=held,
        text=unmask(text, mapping),
        text_source=source,
        notice=review_notice(run),
        mapping=mapping,
    )
    as_generated = run.review_status in (Run.Review.NONE, Run.Review.APPROVED)
    if not held and as_generated:
        view.reasoning = unmask(run.reasoning, mapping)
    if overseer:
        view.draft = unmask(run.answer, mapping)
        view.draft_reasoning = unmask(run.reasoning, mapping)
        view.final_text = unmask(run.final_text, mapping)
    view.data = _delivered_data(run, view.text, source, mapping)
    if viewer.kind == Kind.PERSON:
        if _within(viewer.departments(Action.MANAGE), run.department_id):
            view.trace_url = reverse("admin:agents_run_change", args=[run.pk])
        if (run.review_required or run.review_status) and _within(viewer.departments(Action.REVIEW), run.department_id):
            view.review_url = reverse("chat:review_item", args=[run.pk])
    return view


def _delivered_data(run: Run, text: str, source: Source, mapping: dict[str, str]):
    """The structured result that may be used: the stored one, or an edit of it when that is still JSON."""
    if run.output_data is None or source == Source.NONE:
        return None
    if source == Source.ANSWER:
        return _unmask_data(run.output_data, mapping)
    try:
        return json.loads(text)
    except ValueError:
        return None


def _unmask_data(value, mapping: dict[str, str]):
    """A structured result with the placeholders in its strings restored."""
    if not mapping:
        return value
    if isinstance(value, str):
        return unmask(value, mapping)
    if isinstance(value, list):
        return [_unmask_data(item, mapping) for item in value]
    if isinstance(value, dict):
        return {key: _unmask_data(item, mapping) for key, item in value.items()}
    return value


# --------------------------------------------------------------------------- a run as it streams


def sources_of(hits: list[dict]) -> list[dict]:
    """The cited passages of a run: where each [n] of the answer comes from (no passage text)."""
    return [
        {
            "n": hit.get("n"),
            "citation": hit.get("citation") or "",
            "document_title": hit.get("document_title") or "",
            "document_number": hit.get("document_number") or "",
            "page": hit.get("page"),
        }
        for hit in hits or []
    ]


@dataclass
class Shown:
    """One thing a viewer is shown while a run streams.

    kind: "start" (``run``, ``requires_review``), "sources" (``sources``), "tool" (``tool``),
    "reasoning"/"delta" (``text`` to append), "replace" (``text``: the whole answer so far, replacing
    what came before), "done" (``run``, the finished run as stored).
    """

    kind: str
    text: str = ""
    run: Run | None = None
    requires_review: bool = False
    sources: list[dict] = field(default_factory=list)
    tool: dict = field(default_factory=dict)


class StreamUnmasker:
    """Unmasks streamed chunks; a placeholder split across chunks is held back until it is whole."""

    def __init__(self, mapping: dict[str, str]):
        self.mapping = mapping
        self._pending = ""

    def feed(self, text: str) -> str:
        if not self.mapping:
            return text
        self._pending += text
        open_tail = _OPEN_PLACEHOLDER.search(self._pending)
        cut = open_tail.start() if open_tail else len(self._pending)
        out, self._pending = self._pending[:cut], self._pending[cut:]
        return unmask(out, self.mapping)

    def flush(self) -> str:
        out, self._pending = self._pending, ""
        return unmask(out, self.mapping)


async def visible_events(*, events: AsyncIterator, viewer, reload: Callable[[int], Run]) -> AsyncIterator[Shown]:
    """The runtime's events (``runtime.events``) as ``viewer`` (the requester) may see them.

    No answer or reasoning text of a run that needs review is ever sent: the stream carries the
    start, the sources and the tool steps, then "done". Texts are unmasked as they come for an
    entitled viewer. The last item is always "done" with the finished run (read back with
    ``reload(run_id)`` when the run's thread ended by an error: the runtime closed the run).
    """
    viewer = Viewer.of(viewer)
    mapping: Callable[[], dict] = dict
    answer = reasoning = StreamUnmasker({})
    hold = False
    started: Run | None = None
    finished: Run | None = None
    async for event in events:
        if isinstance(event, ev.RunStarted):
            started = event.run
            entitled = await sync_to_async(may_see_personal_data)(run=event.run, viewer=viewer)
            mapping = event.mapping if entitled else dict
            answer, reasoning = StreamUnmasker(mapping()), StreamUnmasker(mapping())
            hold = event.requires_review
            yield Shown("start", run=event.run, requires_review=event.requires_review)
        elif isinstance(event, ev.Sources):
            yield Shown("sources", sources=sources_of(event.hits))
        elif isinstance(event, ev.ToolStep):
            yield Shown("tool", tool={"name": event.step.get("name"), "ok": bool(event.step.get("ok"))})
        elif isinstance(event, ev.RunFinished):
            finished = event.run  # the run as the runtime stored it (its thread is done with it)
            break
        elif hold:
            continue
        elif isinstance(event, ev.AnswerDelta):
            answer.mapping = mapping()
            text = answer.feed(event.text)
            if text:
                yield Shown("delta", text=text)
        elif isinstance(event, ev.ReasoningDelta):
            reasoning.mapping = mapping()
            text = reasoning.feed(event.text)
            if text:
                yield Shown("reasoning", text=text)
        elif isinstance(event, ev.AnswerReplaced):
            answer = StreamUnmasker(mapping())
            yield Shown("replace", text=answer.feed(event.text) + answer.flush())
    if not hold:
        # A placeholder still open at the very end was not one: it is shown as it came.
        tail = reasoning.flush()
        if tail:
            yield Shown("reasoning", text=tail)
        tail = answer.flush()
        if tail:
            yield Shown("delta", text=tail)
    if finished is None and started is not None:
        finished = await sync_to_async(reload)(started.pk)
    if finished is not None:
        yield Shown("done", run=finished)

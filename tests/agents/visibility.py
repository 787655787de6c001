"""Generated visibility tests: what each interface shows of a run, per run state and per viewer.

An interface that shows runs declares a :class:`VisibilitySpec` subclass with ``@visibility_spec``:
the URL names it serves (``urls``), who may reach it (``reaches``), what it fetches (``fetch``) and
which marks of the run it shows (``shows``). The runs are made once per test through the real
runtime (the fake model server answers), one per state, by a person and by an API key; the marks
are phrases that only one text of the run contains, so what a viewer receives proves exactly which
texts reached them. The expectations are written here, from the product's rules, not from the code
under test.

The meta-test in ``test_visibility`` fails when a URL that can show a run's texts has no spec.
"""

from __future__ import annotations

import enum
import io
import json
from dataclasses import dataclass, field

from django.urls import reverse

from agents.chat.services import conversation_start, run_edit
from agents.models import BatchJob, BatchRow, Conversation, Run
from agents.runtime.pipeline import run_execute
from agents.runtime.review import Decision, run_review
from tests.agents.runtime.helpers import model_endpoint, published_agent
from tests.factories import bearer, make_api_key
from tests.fakes.openai_server import Reply

PHONE = "13800138000"
QUESTION = f"张某反映噪音扰民，电话{PHONE}，请起草答复。"
DRAFT = "草稿正文甲乙"
REASONING = "推理过程丙丁"
REVIEWED = "审定文本戊己"
OWN_EDIT = "本人修改庚辛"
REJECT_REASON = "依据引用错误"
REPLY = Reply(text=f"{DRAFT}，请联系【手机号1】回复。", reasoning=f"{REASONING}，先核实情况。")


class State(enum.StrEnum):
    DELIVERED = "delivered"  # an agent without review answered
    RUNNING = "running"  # a review-required run mid-stream, its partial text saved
    PENDING = "pending"
    APPROVED = "approved"
    EDITED = "edited"  # approved with the reviewer's text
    REJECTED = "rejected"
    OWN_EDIT = "own_edit"  # approved, then edited by the requester
    INCOMPLETE = "incomplete"  # the model's stream broke mid-answer
    FAILED = "failed"  # the model refused before any text


class Who(enum.StrEnum):
    REQUESTER = "requester"  # made the run, holds an unmasking role (staff)
    REQUESTER_PLAIN = "requester_plain"  # made the run, holds no unmasking role (a leader using the agent)
    REVIEWER = "reviewer"
    ADMIN = "admin"
    LEADER = "leader"
    OTHER = "other"  # the same roles in another department
    KEY = "key"  # the API key that made the run
    OTHER_KEY = "other_key"  # another key of the same department


class Mark(enum.StrEnum):
    DRAFT = "draft"  # the model's answer
    REASONING = "reasoning"
    REVIEWED = "reviewed"  # the reviewer's text
    OWN_EDIT = "own_edit"
    PHONE = "phone"  # the personal datum restored
    REVIEWED_LABEL = "reviewed_label"  # the answer is labelled as reviewed
    TRACE_LINK = "trace_link"
    REVIEW_LINK = "review_link"


MARK_TEXT = {
    Mark.DRAFT: DRAFT,
    Mark.REASONING: REASONING,
    Mark.REVIEWED: REVIEWED,
    Mark.OWN_EDIT: OWN_EDIT,
    Mark.PHONE: PHONE,
}

HAS_TEXT = {State.DELIVERED, State.RUNNING, State.PENDING, State.APPROVED, State.EDITED, State.REJECTED}
HAS_TEXT |= {State.OWN_EDIT, State.INCOMPLETE}
REVIEWED_STATES = {State.PENDING, State.APPROVED, State.EDITED, State.REJECTED, State.OWN_EDIT, State.INCOMPLETE}


def delivered_marks(state: State, *, reasoning: bool = True) -> set[Mark]:
    """What the requester may use of a run in ``state`` (the product's rule, written independently)."""
    if state == State.DELIVERED:
        return {Mark.DRAFT, *([Mark.REASONING] if reasoning else [])}
    if state == State.APPROVED:
        return {Mark.DRAFT, Mark.REVIEWED_LABEL, *([Mark.REASONING] if reasoning else [])}
    if state == State.EDITED:
        return {Mark.REVIEWED, Mark.REVIEWED_LABEL}
    if state == State.OWN_EDIT:  # approved as generated, then the requester's own text (not labelled reviewed)
        return {Mark.OWN_EDIT, *([Mark.REASONING] if reasoning else [])}
    return set()  # running, pending, rejected, incomplete (waits for review), failed


@dataclass
class Made:
    """One run in one state, and how to reach it."""

    state: State
    run: Run
    maker: str  # "staff", "leader" or "key"
    job: BatchJob | None = None

    @property
    def by_key(self) -> bool:
        return self.maker == "key"


@dataclass
class World:
    """Two departments, their people and keys, and the runs (see ``build_world``)."""

    tenant_a: object
    tenant_b: object
    agent: object
    plain_agent: object
    key: object
    key_secret: str
    other_key_secret: str
    foreign_key_secret: str
    runs: list[Made] = field(default_factory=list)

    def person(self, who: Who, made: Made):
        return {
            Who.REQUESTER: self.tenant_a.staff,
            Who.REQUESTER_PLAIN: self.tenant_a.leader,
            Who.REVIEWER: self.tenant_a.reviewer,
            Who.ADMIN: self.tenant_a.admin,
            Who.LEADER: self.tenant_a.leader,
        }.get(who)


# The people who look at a person's runs; the plain requester looks at the leader's own runs.
PERSON_VIEWERS = (Who.REQUESTER, Who.REVIEWER, Who.ADMIN, Who.LEADER, Who.OTHER)
KEY_VIEWERS = (Who.KEY, Who.OTHER_KEY, Who.OTHER)


def build_world(*, tenant_a, tenant_b, fake_openai, with_keys: bool = True, makers=("staff", "leader")) -> World:
    endpoint = model_endpoint(tenant_a.department, fake_openai)
    agent = published_agent(tenant_a.department, endpoint=endpoint, requires_review=True)
    plain = published_agent(tenant_a.department, endpoint=endpoint)
    key, secret = make_api_key(tenant_a.department, agents=[agent, plain])
    _other, other_secret = make_api_key(tenant_a.department, agents=[agent, plain])
    _foreign, foreign_secret = make_api_key(tenant_b.department)
    world = World(tenant_a, tenant_b, agent, plain, key, secret, other_secret, foreign_secret)
    principals = [getattr(tenant_a, name) for name in makers]
    if with_keys:
        principals.append(key)
    for principal in principals:
        maker = "key" if principal is key else principal.memberships.first().role
        for state in State:
            if maker == "key" and state == State.OWN_EDIT:
                continue
            world.runs.append(_make(state, principal, world, fake_openai, maker))
    return world


def _make(state: State, principal, world: World, fake_openai, maker: str) -> Made:
    by_key = maker == "key"
    agent = world.plain_agent if state == State.DELIVERED else world.agent
    if by_key:
        conversation = Conversation.objects.create(department=agent.department, api_key=principal, agent=agent)
    else:
        conversation = conversation_start(user=principal, agent=agent)
    if state == State.FAILED:
        fake_openai.script(Reply(status=401, error="bad key"))
    elif state in (State.INCOMPLETE, State.RUNNING):
        fake_openai.script(
            Reply(text=REPLY.text, reasoning=REPLY.reasoning, truncate_after=len(REPLY.reasoning) + len(DRAFT) + 2)
        )
    else:
        fake_openai.script(REPLY)
    run = run_execute(
        principal=principal,
        agent=agent,
        message=QUESTION,
        conversation=conversation,
        via=Run.Via.API if by_key else Run.Via.CHAT,
    )
    reviewer = world.tenant_a.reviewer
    if state in (State.APPROVED, State.OWN_EDIT):
        run_review(run=run, reviewer=reviewer, decision=Decision.APPROVE)
    elif state == State.EDITED:
        run_review(run=run, reviewer=reviewer, decision=Decision.EDIT, text=f"{REVIEWED}。")
    elif state == State.REJECTED:
        run_review(run=run, reviewer=reviewer, decision=Decision.REJECT, reason=REJECT_REASON)
    if state == State.OWN_EDIT:
        run_edit(run=Run.objects.get(pk=run.pk), user=principal, text=f"{OWN_EDIT}。")
    if state == State.RUNNING:  # the row as the runtime keeps it mid-stream
        Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING, review_status="", finished_at=None)
    run = Run.objects.get(pk=run.pk)
    job = None
    if by_key:
        job = BatchJob.objects.create(
            department=agent.department,
            agent=agent,
            api_key=principal,
            file_name="工单.csv",
            columns=["问题"],
            message_column="问题",
            status=BatchJob.Status.FINISHED,
            total=1,
            done=1,
        )
        BatchRow.objects.create(
            job=job,
            number=1,
            values={"问题": QUESTION},
            status=BatchRow.Status.SUCCEEDED if run.status == Run.Status.SUCCEEDED else BatchRow.Status.FAILED,
            run=run,
        )
    return Made(state=state, run=run, maker=maker, job=job)


# --------------------------------------------------------------------------- specs

_SPECS: list[type[VisibilitySpec]] = []


def visibility_spec(cls):
    _SPECS.append(cls)
    return cls


def load_specs() -> list[type[VisibilitySpec]]:
    import tests.agents.test_visibility  # noqa: F401  (declares the specs)

    return list(_SPECS)


@dataclass
class Seen:
    """What one viewer got: ``None`` when the interface answered that the run does not exist for them."""

    text: str | None


class VisibilitySpec:
    """One interface that shows runs. Subclasses set ``urls`` and implement ``fetch`` and ``shows``."""

    urls: tuple[str, ...] = ()
    by_key = False  # the interface shows runs made with API keys (else runs made by people)

    def viewers(self) -> tuple[Who, ...]:
        return KEY_VIEWERS if self.by_key else PERSON_VIEWERS

    def fetch(self, *, world: World, made: Made, who: Who, client) -> Seen:
        raise NotImplementedError

    def shows(self, *, state: State, who: Who) -> set[Mark] | None:
        """The marks ``who`` must see of a run in ``state`` (exactly those), or None for a 404."""
        raise NotImplementedError

    # helpers for fetch()
    @staticmethod
    def page(client, url: str, person) -> Seen:
        from tests.factories import sign_in

        sign_in(client, person)
        response = client.get(url)
        client.logout()
        if response.status_code == 404:
            return Seen(None)
        if response.status_code in (302, 403):  # not for this kind of user at all (login page, forbidden)
            return Seen(None)
        assert response.status_code == 200, (url, response.status_code)
        return Seen(_body(response))

    @staticmethod
    def api(client, url: str, secret: str) -> Seen:
        response = client.get(url, **bearer(secret))
        if response.status_code == 404:
            return Seen(None)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
        return Seen(_body(response))


def _body(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    kind = response.get("Content-Type", "")
    if "wordprocessingml" in kind:
        import docx

        document = docx.Document(io.BytesIO(content))
        return "\n".join(p.text for p in document.paragraphs)
    text = content.decode("utf-8-sig")
    if kind.startswith("application/json"):
        return json.dumps(json.loads(text), ensure_ascii=False)
    return text


def marks_in(text: str, *, world: World, made: Made) -> set[Mark]:
    found = {mark for mark, phrase in MARK_TEXT.items() if phrase in text}
    if "已经人工审核" in text or "reviewed_label" in text:
        found.add(Mark.REVIEWED_LABEL)
    if reverse("admin:agents_run_change", args=[made.run.pk]) in text:
        found.add(Mark.TRACE_LINK)
    if reverse("chat:review_item", args=[made.run.pk]) in text:
        found.add(Mark.REVIEW_LINK)
    return found

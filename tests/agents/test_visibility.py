"""What every interface shows of a run, per run state and viewer (see ``tests/agents/visibility.py``).

Each spec below declares one interface; ``test_every_interface_shows_exactly_what_the_viewer_may_see``
runs every spec over every state and viewer. The streamed interfaces are proven live, through the
ASGI server, in ``test_streams_send_no_text_of_an_answer_that_needs_review``.
"""

from __future__ import annotations

import json
import re

import httpx2
import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client
from django.urls import get_resolver, reverse

from agents.models import Run
from tests.agents.runtime.helpers import model_endpoint, published_agent
from tests.agents.visibility import (
    DRAFT,
    PHONE,
    QUESTION,
    REASONING,
    REPLY,
    Made,
    Mark,
    Seen,
    State,
    VisibilitySpec,
    Who,
    World,
    build_world,
    delivered_marks,
    load_specs,
    marks_in,
    visibility_spec,
)
from tests.factories import asign_in, make_api_key
from tests.fakes.openai_server import Reply

TEXT_MARKS = {Mark.DRAFT, Mark.REASONING, Mark.REVIEWED, Mark.OWN_EDIT, Mark.PHONE}
REVIEW_WAITS = {State.PENDING, State.INCOMPLETE}  # the states whose review status is "pending"


def _with_phone(marks: set[Mark], *, entitled: bool, question_shown: bool) -> set[Mark]:
    """The personal datum appears restored for an entitled viewer wherever the question (which has it)
    or the model's draft (which has its placeholder) is shown."""
    if entitled and (question_shown or Mark.DRAFT in marks):
        return {*marks, Mark.PHONE}
    return marks


# --------------------------------------------------------------------------- the workspace


class _Workspace(VisibilitySpec):
    """A requester's own page: others answer 404; the question is shown, and the delivered answer."""

    checked = {*TEXT_MARKS, Mark.REVIEWED_LABEL}
    reasoning = True
    question_shown = True

    def url(self, made: Made) -> str:
        raise NotImplementedError

    def viewers(self):
        return (Who.REQUESTER, Who.REQUESTER_PLAIN, Who.REVIEWER, Who.ADMIN, Who.LEADER, Who.OTHER)

    def fetch(self, *, world, made, who, client) -> Seen:
        return _as_people(self, world, made, who, client, lambda person: self.page(client, self.url(made), person))

    def delivered(self, state: State) -> set[Mark]:
        return delivered_marks(state, reasoning=self.reasoning)

    def shows(self, *, state, who):
        if who not in (Who.REQUESTER, Who.REQUESTER_PLAIN):
            return None
        return _with_phone(self.delivered(state), entitled=who == Who.REQUESTER, question_shown=self.question_shown)


@visibility_spec
class WorkspaceConversation(_Workspace):
    urls = ("chat:conversation",)

    def url(self, made):
        return reverse("chat:conversation", args=[made.run.conversation_id])


@visibility_spec
class WorkspaceTurn(_Workspace):
    urls = ("chat:run_turn",)

    def url(self, made):
        return reverse("chat:run_turn", args=[made.run.pk])


@visibility_spec
class WorkspaceRunPage(_Workspace):
    urls = ("chat:run",)
    reasoning = False

    def url(self, made):
        return reverse("chat:run", args=[made.run.pk])


@visibility_spec
class WorkspaceDocx(_Workspace):
    """The delivered document as Word: only the delivered text, and 404 while there is none."""

    urls = ("chat:run_docx",)
    checked = TEXT_MARKS
    reasoning = False
    question_shown = False

    def url(self, made):
        return reverse("chat:run_docx", args=[made.run.pk])

    def shows(self, *, state, who):
        marks = super().shows(state=state, who=who)
        return marks or None  # nothing to deliver: no document


# --------------------------------------------------------------------------- review


@visibility_spec
class ReviewQueue(VisibilitySpec):
    """The queue lists a waiting run (with its question) to its department's reviewers, never a draft."""

    urls = ("chat:review",)
    checked = {*TEXT_MARKS, Mark.REVIEW_LINK}

    def viewers(self):
        return (Who.REQUESTER, Who.REVIEWER, Who.ADMIN, Who.LEADER, Who.OTHER)

    def fetch(self, *, world, made, who, client):
        link = reverse("chat:review_item", args=[made.run.pk])

        def one(person):
            seen = self.page(client, reverse("chat:review"), person)
            items = re.findall(r"<li>.*?</li>", seen.text or "", flags=re.S)
            return Seen("".join(item for item in items if f'href="{link}"' in item))

        return _as_people(self, world, made, who, client, one)

    def shows(self, *, state, who):
        if who == Who.REVIEWER and state in REVIEW_WAITS:
            return {Mark.REVIEW_LINK, Mark.PHONE}
        return set()


@visibility_spec
class ReviewItem(VisibilitySpec):
    """The reviewer's page: the whole trace of a run that went to review, personal data restored."""

    urls = ("chat:review_item",)
    checked = TEXT_MARKS

    def viewers(self):
        return (Who.REQUESTER, Who.REVIEWER, Who.ADMIN, Who.LEADER, Who.OTHER)

    def fetch(self, *, world, made, who, client):
        url = reverse("chat:review_item", args=[made.run.pk])
        return _as_people(self, world, made, who, client, lambda person: self.page(client, url, person))

    def shows(self, *, state, who):
        if who != Who.REVIEWER or state not in {State.PENDING, State.APPROVED, State.EDITED, State.REJECTED}.union(
            {State.OWN_EDIT, State.INCOMPLETE}
        ):
            return None
        return _trace_marks(state) | {Mark.PHONE}


@visibility_spec
class AdminTrace(VisibilitySpec):
    """The admin trace: every run of the department to its admins, with placeholders (no unmasking role)."""

    urls = ("admin:agents_run_change",)
    checked = TEXT_MARKS

    def viewers(self):
        return (Who.REQUESTER, Who.REVIEWER, Who.ADMIN, Who.LEADER, Who.OTHER)

    def fetch(self, *, world, made, who, client):
        url = reverse("admin:agents_run_change", args=[made.run.pk])
        return _as_people(self, world, made, who, client, lambda person: self.page(client, url, person))

    def shows(self, *, state, who):
        if who != Who.ADMIN:
            return None
        return _trace_marks(state)


def _trace_marks(state: State) -> set[Mark]:
    """A trace shows what the model wrote (draft and reasoning), the reviewer's text and the requester's edit."""
    marks = {Mark.DRAFT, Mark.REASONING} if state != State.FAILED else set()
    if state == State.EDITED:
        marks.add(Mark.REVIEWED)
    if state == State.OWN_EDIT:
        marks.add(Mark.OWN_EDIT)
    return marks


# --------------------------------------------------------------------------- leaders' reports


@visibility_spec
class LeaderDrilldown(VisibilitySpec):
    """An agent's runs in the leaders' reports: no text of any run; a trace link for its admins only."""

    urls = ("reports:agent_runs",)
    checked = {*TEXT_MARKS, Mark.TRACE_LINK, Mark.REVIEW_LINK}

    def viewers(self):
        return (Who.REQUESTER, Who.REVIEWER, Who.ADMIN, Who.LEADER, Who.OTHER)

    def fetch(self, *, world, made, who, client):
        url = reverse("reports:agent_runs", args=[made.run.agent_id])
        return _as_people(self, world, made, who, client, lambda person: self.page(client, url, person))

    def shows(self, *, state, who):
        if who == Who.LEADER:
            return set()
        if who == Who.ADMIN:
            return {Mark.TRACE_LINK}
        return None


# --------------------------------------------------------------------------- the REST API


class _KeyApi(VisibilitySpec):
    """What the key that made a run reads of it; other keys answer 404. JSON carries no labels."""

    by_key = True
    checked = TEXT_MARKS

    def url(self, made: Made) -> str:
        raise NotImplementedError

    def pick(self, body: str, made: Made) -> str | None:
        return body

    def fetch(self, *, world, made, who, client):
        secret = {Who.KEY: world.key_secret, Who.OTHER_KEY: world.other_key_secret, Who.OTHER: world.foreign_key_secret}
        seen = self.api(client, self.url(made), secret[who])
        return Seen(None if seen.text is None else self.pick(seen.text, made))

    def shows(self, *, state, who):
        if who != Who.KEY:
            return None
        return _with_phone(delivered_marks(state, reasoning=False), entitled=True, question_shown=True) - {
            Mark.REVIEWED_LABEL
        }


@visibility_spec
class RestRunDetail(_KeyApi):
    urls = ("api-run-detail",)

    def url(self, made):
        return reverse("api-run-detail", args=[made.run.pk])


@visibility_spec
class RestRunList(_KeyApi):
    urls = ("api-run-list",)

    def url(self, made):
        return reverse("api-run-list") + "?page_size=100"

    def pick(self, body, made):
        results = json.loads(body)["results"]
        mine = [item for item in results if item["id"] == made.run.pk]
        return json.dumps(mine[0], ensure_ascii=False) if mine else None


@visibility_spec
class RestConversationDetail(_KeyApi):
    urls = ("api-conversation-detail",)

    def url(self, made):
        return reverse("api-conversation-detail", args=[made.run.conversation_id])


@visibility_spec
class BatchResultsApi(_KeyApi):
    """A batch job's results: the uploaded columns (the key's own data) and the delivered answer."""

    urls = ("api-batch-results",)

    def url(self, made):
        return reverse("api-batch-results", args=[made.job.pk]) + "?format=csv"


@visibility_spec
class BatchResultsAdmin(VisibilitySpec):
    """The same results in the admin, for the department's admins: placeholders (no unmasking role)."""

    urls = ("admin:agents_batchjob_results",)
    by_key = True
    checked = TEXT_MARKS

    def viewers(self):
        return (Who.REVIEWER, Who.ADMIN, Who.OTHER)

    def fetch(self, *, world, made, who, client):
        url = reverse("admin:agents_batchjob_results", args=[made.job.pk, "csv"])
        return _as_people(self, world, made, who, client, lambda person: self.page(client, url, person))

    def shows(self, *, state, who):
        if who != Who.ADMIN:
            return None
        return delivered_marks(state, reasoning=False) - {Mark.REVIEWED_LABEL}


def _as_people(spec, world: World, made: Made, who: Who, client, fetch_one) -> Seen:
    """Fetch as the person ``who`` is; for OTHER, as each member of the other department (all must agree
    on nothing: any text one of them got is reported)."""
    if who == Who.OTHER:
        texts = [fetch_one(person).text for person in world.tenant_b.users.values()]
        got = [t for t in texts if t]
        return Seen("\n".join(got) if got else (None if all(t is None for t in texts) else ""))
    return fetch_one(world.person(who, made))


# --------------------------------------------------------------------------- the generated tests


@pytest.mark.parametrize("spec", load_specs(), ids=lambda spec: spec.__name__)
def test_every_interface_shows_exactly_what_the_viewer_may_see(spec, tenant_a, tenant_b, fake_openai, client):
    spec = spec()
    world = build_world(
        tenant_a=tenant_a,
        tenant_b=tenant_b,
        fake_openai=fake_openai,
        with_keys=spec.by_key,
        makers=() if spec.by_key else ("staff", "leader"),
    )
    wrong = []
    for made in world.runs:
        if made.maker == "leader":
            viewers = (Who.REQUESTER_PLAIN,) if Who.REQUESTER_PLAIN in spec.viewers() else ()
        else:
            viewers = tuple(w for w in spec.viewers() if w != Who.REQUESTER_PLAIN)
        for who in viewers:
            expected = spec.shows(state=made.state, who=who)
            seen = spec.fetch(world=world, made=made, who=who, client=client)
            if expected is None:
                if seen.text is not None:
                    wrong.append(
                        f"{made.state}/{who}: expected 404, got {sorted(marks_in(seen.text, world=world, made=made))}"
                    )
                continue
            if seen.text is None:
                wrong.append(f"{made.state}/{who}: expected {sorted(expected)}, got 404")
                continue
            got = marks_in(seen.text, world=world, made=made) & spec.checked
            if got != expected & spec.checked:
                wrong.append(f"{made.state}/{who}: expected {sorted(expected & spec.checked)}, got {sorted(got)}")
    assert not wrong, "\n".join(wrong)


# Addresses whose answers include a run's texts only through an interface a spec above proves, or
# none at all; each says why.
NOT_SHOWING_RUNS = {
    "chat:run_rate": "answers the turn partial of chat:run_turn (presenters.turn)",
    "chat:run_edit": "answers the turn partial of chat:run_turn (presenters.turn)",
    "chat:run_stop": "answers 204",
    "chat:review_correction": "POST only: redirects to chat:review_item (the review page's spec)",
    "chat:send": "a stream: test_streams_send_no_text_of_an_answer_that_needs_review",
    "chat:regenerate": "a stream, through the same SSE as chat:send",
    "chat:conversation_rename": "answers the conversation's list item (its title)",
    "chat:conversation_delete": "answers nothing",
    "api-conversation-list": "titles and counts only",
    "api-agent-run": "a run as it is made: test_streams_send_no_text_of_an_answer_that_needs_review",
    "api-openai-chat-completions": "a run as it is made: test_streams_send_no_text_of_an_answer_that_needs_review",
    "admin:agents_run_changelist": "lists runs without their texts",
    "admin:agents_run_history": "the admin's history page (runs are read-only: no history)",
    "admin:agents_run_delete": "runs cannot be deleted (403)",
    "admin:agents_run_add": "runs cannot be added (403)",
    "admin:agents_evalcase_from_run": "redirects to the case made from the run (its masked input and answer, for the "
    "agent's admins, who read the run's trace anyway)",
    "admin:agents_evalrun_add": "test set runs cannot be added (403)",
    "admin:agents_evalrun_change": "figures, case names and check verdicts; a run's texts only through its trace link",
    "admin:agents_evalrun_changelist": "lists test set runs' figures",
    "admin:agents_evalrun_delete": "names the test set run to delete",
    "admin:agents_evalrun_history": "the admin's history page of a test set run",
    "admin:agents_evalrun_override": "answers a redirect",
    "admin:agents_evalrun_progress": "counts and status only",
}
RUN_SHOWING = re.compile(r"run|conversation|review|result|completion")


def test_every_address_that_can_show_a_run_has_a_visibility_spec():
    covered = {url for spec in load_specs() for url in spec.urls}
    names = set()

    def walk(resolver, namespace=""):
        for pattern in resolver.url_patterns:
            if hasattr(pattern, "url_patterns"):
                walk(pattern, f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace)
            elif pattern.name:
                names.add(f"{namespace}{pattern.name}")

    walk(get_resolver())
    showing = {name for name in names if RUN_SHOWING.search(name)}
    missing = sorted(showing - covered - set(NOT_SHOWING_RUNS))
    assert not missing, f"addresses that show runs without a visibility spec: {missing}"
    assert not (covered | set(NOT_SHOWING_RUNS)) - names, "a spec names an address that does not exist"


# --------------------------------------------------------------------------- streams, live


def _stream_states():
    return [State.DELIVERED, State.PENDING, State.INCOMPLETE]


def _script(fake_openai, state: State):
    if state == State.INCOMPLETE:
        fake_openai.script(
            Reply(text=REPLY.text, reasoning=REPLY.reasoning, truncate_after=len(REPLY.reasoning) + len(DRAFT) + 2)
        )
    else:
        fake_openai.script(REPLY)


@pytest.mark.parametrize("interface", ["workspace", "rest", "openai_stream", "openai"])
@pytest.mark.parametrize("state", _stream_states(), ids=str)
def test_streams_send_no_text_of_an_answer_that_needs_review(
    interface, state, tenant_a, tenant_b, fake_openai, live_url
):
    endpoint = model_endpoint(tenant_a.department, fake_openai)
    agent = published_agent(tenant_a.department, endpoint=endpoint, requires_review=state != State.DELIVERED)
    _script(fake_openai, state)
    if interface == "workspace":
        body = async_to_sync(_workspace_stream)(tenant_a.staff, agent)
    else:
        _key, secret = make_api_key(tenant_a.department, agents=[agent])
        headers = {"Authorization": f"Bearer {secret}"}
        if interface == "rest":
            response = httpx2.post(
                f"{live_url}/api/v1/agents/{agent.identifier}/runs",
                json={"message": QUESTION, "stream": True},
                headers=headers,
                timeout=60,
            )
        else:
            response = httpx2.post(
                f"{live_url}/v1/chat/completions",
                json={
                    "model": agent.identifier,
                    "messages": [{"role": "user", "content": QUESTION}],
                    "stream": interface == "openai_stream",
                },
                headers=headers,
                timeout=60,
            )
        assert response.status_code == 200, response.text
        body = response.text
    body = _streamed(body)
    run = Run.objects.filter(agent=agent).get()
    shown = {mark for mark, phrase in ((Mark.DRAFT, DRAFT), (Mark.REASONING, REASONING)) if phrase in body}
    if state == State.DELIVERED:
        assert run.review_status == "" and shown == {Mark.DRAFT, Mark.REASONING}
        assert PHONE in body  # the requester's own datum, restored as it streams
    else:
        assert run.review_status == Run.Review.PENDING and DRAFT in run.answer
        assert shown == set(), body
        assert "审核" in body  # told why


def _streamed(body: str) -> str:
    """The body, and after it each streamed field's pieces joined (text arrives a character at a time)."""
    pieces: dict[str, list[str]] = {}

    def walk(value, key=""):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str):
            pieces.setdefault(key, []).append(value)

    for line in body.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            walk(json.loads(line[len("data: ") :]))
    return "\n".join([body, *("".join(values) for values in pieces.values())])


async def _workspace_stream(person, agent) -> str:
    client = AsyncClient()
    await asign_in(client, person)
    response = await client.post(reverse("chat:send", args=[agent.pk]), {"message": QUESTION})
    assert response.status_code == 200
    chunks = [chunk async for chunk in response.streaming_content]
    return b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks).decode()


# --------------------------------------------------------------------------- the requester's own edit


def test_a_requester_cannot_edit_an_answer_that_waits_for_review_or_was_rejected(
    tenant_a, tenant_b, fake_openai, login
):
    world = build_world(
        tenant_a=tenant_a, tenant_b=tenant_b, fake_openai=fake_openai, with_keys=False, makers=("staff",)
    )
    client = login(tenant_a.staff)
    for made in world.runs:
        if made.state not in (State.RUNNING, State.PENDING, State.REJECTED, State.INCOMPLETE):
            continue
        response = client.post(reverse("chat:run_edit", args=[made.run.pk]), {"text": "我自己改的答复"})
        assert response.status_code == 400 and "还不能编辑" in response.content.decode(), made.state
        made.run.refresh_from_db()
        assert made.run.edited_text == "", made.state
    # Another department's requester cannot edit a delivered one.
    approved = next(m for m in world.runs if m.state == State.APPROVED)
    assert (
        login(tenant_b.staff).post(reverse("chat:run_edit", args=[approved.run.pk]), {"text": "x"}).status_code == 404
    )


def test_a_run_the_watchdog_closes_keeps_its_partial_text_waiting_for_review(tenant_a, tenant_b, fake_openai):
    from datetime import timedelta

    from agents.runtime.watchdog import runs_fail_stuck

    world = build_world(
        tenant_a=tenant_a, tenant_b=tenant_b, fake_openai=fake_openai, with_keys=False, makers=("staff",)
    )
    running = next(m for m in world.runs if m.state == State.RUNNING).run
    Run.objects.filter(pk=running.pk).update(started_at=running.started_at - timedelta(hours=2))
    assert runs_fail_stuck(older_than=timedelta(minutes=30)) == 1
    running.refresh_from_db()
    assert running.status == Run.Status.INCOMPLETE and running.review_status == Run.Review.PENDING
    assert WorkspaceTurn().shows(state=State.PENDING, who=Who.REQUESTER) == {Mark.PHONE}
    seen = WorkspaceTurn().fetch(
        world=world, made=Made(State.PENDING, running, "staff"), who=Who.REQUESTER, client=Client()
    )
    assert DRAFT not in seen.text and "人工审核" in seen.text

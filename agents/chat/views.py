"""The staff workspace and the reviewers' queue."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from agents.models import Agent, Run
from agents.runtime.display import run_trace, text_for
from agents.runtime.review import Decision, review_queue, run_review
from tenants.access import requires
from tenants.models import User
from tenants.roles import Action
from tenants.selectors import departments_for


@requires(Action.USE)
def workspace(request):
    departments = departments_for(user=request.user, action=Action.USE)
    return render(
        request,
        "agents/workspace.html",
        {
            "departments": departments,
            "my_department_ids": {d.pk for d in departments},
            "agents": Agent.objects.usable_by(request.user).select_related("department").order_by("area", "name"),
        },
    )


@requires(Action.USE)
def run_detail(request, run_id):
    """A requester's own run: its status, and its answer once it may be used."""
    run = get_object_or_404(Run.objects.select_related("agent"), pk=run_id, user_id=request.user.pk)
    return render(
        request,
        "agents/run_detail.html",
        {
            "run": run,
            "question": text_for(run=run, user=request.user, text=run.input_text),
            "answer": text_for(run=run, user=request.user, text=run.delivered_text),
        },
    )


@requires(Action.REVIEW)
def review(request):
    return render(
        request,
        "agents/review.html",
        {
            "departments": departments_for(user=request.user, action=Action.REVIEW),
            "queue": review_queue(user=request.user)[:200],
        },
    )


@requires(Action.REVIEW)
def review_item(request, run_id):
    run = Run.objects.restrict(request.user, Action.REVIEW).select_related("agent").filter(pk=run_id).first()
    if run is None or not run.review_status:
        raise Http404
    if request.method == "POST":
        return _decide(request, run)
    trace = run_trace(run=run, user=request.user)
    return render(
        request,
        "agents/review_item.html",
        {"trace": trace, "run_user": _name(run.user_id), "reviewer": _name(run.reviewer_id)},
    )


def _decide(request, run):
    try:
        run_review(
            run=run,
            reviewer=request.user,
            decision=request.POST.get("decision", ""),
            text=request.POST.get("text", ""),
            reason=request.POST.get("reason", ""),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("chat:review_item", run_id=run.pk)
    labels = {Decision.APPROVE: _("已通过。"), Decision.EDIT: _("已修改并通过。"), Decision.REJECT: _("已驳回。")}
    messages.success(request, labels[request.POST["decision"]])
    return redirect("chat:review")


def _name(user_id):
    if user_id is None:
        return ""
    user = User.objects.filter(pk=user_id).first()
    return str(user) if user else f"#{user_id}"

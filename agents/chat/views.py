"""The staff workspace and the reviewers' queue."""

from django.shortcuts import render

from agents.models import Agent
from tenants.access import requires
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


@requires(Action.REVIEW)
def review(request):
    return render(
        request,
        "agents/review.html",
        {"departments": departments_for(user=request.user, action=Action.REVIEW)},
    )

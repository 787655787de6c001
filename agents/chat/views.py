"""The staff workspace and the reviewers' queue."""

from django.shortcuts import render

from tenants.access import requires
from tenants.roles import Action
from tenants.selectors import departments_for


@requires(Action.USE)
def workspace(request):
    return render(
        request,
        "agents/workspace.html",
        {"departments": departments_for(user=request.user, action=Action.USE)},
    )


@requires(Action.REVIEW)
def review(request):
    return render(
        request,
        "agents/review.html",
        {"departments": departments_for(user=request.user, action=Action.REVIEW)},
    )

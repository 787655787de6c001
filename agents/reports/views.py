"""Leaders' reports: usage and value for their department and every department below it."""

from django.shortcuts import render

from tenants.access import requires
from tenants.roles import Action
from tenants.selectors import departments_for


@requires(Action.REPORT)
def home(request):
    return render(
        request,
        "agents/reports.html",
        {"departments": departments_for(user=request.user, action=Action.REPORT)},
    )

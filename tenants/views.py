"""Landing pages: the role-based home redirect and the page for users with no role yet."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from .selectors import home_url_name


@login_required
def home(request):
    target = home_url_name(user=request.user)
    if target == "no_role":
        return render(request, "tenants/no_role.html")
    return redirect(target)

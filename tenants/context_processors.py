"""Template context every page needs: the sections of the platform the user may open."""

from django.utils.translation import gettext_lazy as _

from .selectors import sections_for

SECTION_LABELS = {
    "workspace": _("工作台"),
    "review": _("审核"),
    "reports": _("报表"),
    "admin": _("管理后台"),
}


def roles(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_sections": []}
    return {
        "nav_sections": [{**s, "label": SECTION_LABELS[s["key"]]} for s in sections_for(user=user)],
    }


def session_limits(request):
    """What the idle warning needs (static/js/idle.js): seconds before sign-out and before the warning."""
    from django.conf import settings

    from .session_policy import idle_seconds

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or idle_seconds() <= 0:
        return {}
    return {"idle_seconds": int(idle_seconds()), "idle_warning_seconds": settings.SHUZHI_IDLE_WARNING_SECONDS}

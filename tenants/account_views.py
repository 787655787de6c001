"""The person's own account: changing their password (also when the policy requires it)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from . import audit
from .models import AuditEntry
from .passwords import password_change_reason, password_expires_at


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change, which says why it is required and clears the first-login flag."""

    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("home")

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "reason": password_change_reason(user=self.request.user),
            "expires_at": password_expires_at(user=self.request.user),
            "next": self._next(),
        }

    def _next(self) -> str:
        target = self.request.POST.get("next") or self.request.GET.get("next") or ""
        ok = url_has_allowed_host_and_scheme(target, allowed_hosts={self.request.get_host()})
        return target if ok else ""

    def form_valid(self, form):
        form.user.must_change_password = False
        super().form_valid(form)
        audit.event(kind=AuditEntry.Kind.PASSWORD_CHANGED, user=form.user)
        messages.success(self.request, _("密码已修改。"))
        return redirect(self._next() or "home")

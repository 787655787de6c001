"""Run traces in the admin: read-only, for the admins of the agent's department."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from tenants.admin import DepartmentScopedAdmin
from tenants.selectors import user_label, user_labels

from ..models import Run
from ..runtime.display import run_trace


@admin.register(Run)
class RunAdmin(DepartmentScopedAdmin):
    list_display = ["started_at", "agent", "user_name", "via", "status", "review_status", "latency_ms", "tokens"]
    list_filter = ["status", "via", "review_status", "retrieval_only", "department"]
    search_fields = ["agent__name", "input_text"]
    list_select_related = ["agent", "department", "api_key"]
    date_hierarchy = "started_at"
    list_per_page = 50
    show_full_result_count = False
    change_form_template = "admin/agents/run/change_form.html"

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        # The people of a whole page in one query (runs keep a user id, not a foreign key).
        labels = user_labels(ids={run.user_id for run in changelist.result_list})
        for run in changelist.result_list:
            run.user_label = labels.get(run.user_id, f"#{run.user_id}") if run.user_id else "—"
        return changelist

    @admin.display(description=_("使用人"))
    def user_name(self, obj):
        if obj.api_key_id:
            return _("API 密钥：%(key)s") % {"key": obj.api_key}
        return getattr(obj, "user_label", None) or user_label(user_id=obj.user_id)

    @admin.display(description=_("token"))
    def tokens(self, obj):
        return obj.input_tokens + obj.output_tokens

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, object_id)
        extra = {}
        if run is not None:
            extra = {
                "trace": run_trace(run=run, viewer=request.user),
                "run_user": (
                    _("API 密钥：%(key)s") % {"key": run.api_key} if run.api_key_id else user_label(user_id=run.user_id)
                ),
                "reviewer": user_label(user_id=run.reviewer_id) if run.reviewer_id else "",
            }
        return super().change_view(request, object_id, form_url, extra_context={**(extra_context or {}), **extra})

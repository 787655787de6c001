"""Approved answers in the admin: listed, edited, retired and enabled again, per department."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from tenants.admin import DepartmentScopedAdmin

from ..evaluation.services import EvalRefused, eval_case_from_approved_answer
from ..knowledge.approved import (
    ANSWER_MAX,
    QUESTION_MAX,
    approved_answer_activate,
    approved_answer_retire,
    approved_answer_store,
)
from ..models import ApprovedAnswer


class ApprovedAnswerForm(forms.ModelForm):
    class Meta:
        model = ApprovedAnswer
        fields = ["knowledge_base", "question", "answer", "effective_date", "expiry_date", "is_active"]
        widgets = {
            "question": forms.Textarea(attrs={"rows": 3}),
            "effective_date": forms.DateInput(attrs={"type": "date"}),
            "expiry_date": forms.DateInput(attrs={"type": "date"}),
        }

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("effective_date"), cleaned.get("expiry_date")
        if start and end and end < start:
            self.add_error("expiry_date", gettext("失效日期不能早于生效日期。"))
        for name, limit in (("question", QUESTION_MAX), ("answer", ANSWER_MAX)):
            if len(cleaned.get(name) or "") > limit:
                self.add_error(name, gettext("问题或回答过长。"))
        return cleaned


@admin.register(ApprovedAnswer)
class ApprovedAnswerAdmin(DepartmentScopedAdmin):
    form = ApprovedAnswerForm
    list_display = [
        "__str__",
        "knowledge_base",
        "approved_by",
        "approved_at",
        "effective_date",
        "expiry_date",
        "in_force",
        "is_active",
    ]
    list_filter = ["is_active", "knowledge_base", "knowledge_base__department"]
    search_fields = ["question", "answer"]
    list_select_related = ["knowledge_base", "approved_by"]
    actions = ["retire", "activate", "make_cases"]
    fields = [
        "knowledge_base",
        "question",
        "answer",
        "effective_date",
        "expiry_date",
        "is_active",
        "approved_by",
        "approved_at",
        "source_run_link",
    ]
    readonly_fields = ["approved_by", "approved_at", "source_run_link"]

    @admin.display(description=_("当前有效"), boolean=True)
    def in_force(self, obj):
        today = timezone.localdate()
        started = obj.effective_date is None or obj.effective_date <= today
        return obj.is_active and started and (obj.expiry_date is None or obj.expiry_date >= today)

    @admin.display(description=_("来源运行"))
    def source_run_link(self, obj):
        if not obj.source_run_id:
            return "—"
        return format_html(
            '<a href="{}">#{}</a>', reverse("admin:agents_run_change", args=[obj.source_run_id]), obj.source_run_id
        )

    def save_model(self, request, obj, form, change):
        if not change or {"question", "answer"} & set(form.changed_data):
            # Whoever sets the text approves it: the citation names them and the day.
            obj.approved_by, obj.approved_at = request.user, timezone.now()
        try:
            approved_answer_store(approved_answer=obj)
        except ValidationError as exc:
            raise PermissionDenied(" ".join(exc.messages)) from exc
        if not ApprovedAnswer.objects.changeable_by(request.user, self.scope_action).filter(pk=obj.pk).exists():
            raise PermissionDenied

    @admin.action(description=_("停用所选问答（不再用于回答）"))
    def retire(self, request, queryset):
        for pair in queryset:
            approved_answer_retire(approved_answer=pair)
        self.message_user(request, gettext("已停用所选问答。"), messages.SUCCESS)

    @admin.action(description=_("启用所选问答"))
    def activate(self, request, queryset):
        for pair in queryset:
            approved_answer_activate(approved_answer=pair)
        self.message_user(request, gettext("已启用所选问答。"), messages.SUCCESS)

    @admin.action(description=_("加入测试集（以所选问答为用例）"))
    def make_cases(self, request, queryset):
        made = 0
        for pair in queryset.select_related("source_run__agent"):
            try:
                eval_case_from_approved_answer(approved_answer=pair, user=request.user)
            except EvalRefused as exc:
                self.message_user(request, f"{pair}: {exc}", messages.WARNING)
            else:
                made += 1
        if made:
            self.message_user(request, gettext("已加入测试集：%(n)s 个用例。") % {"n": made}, messages.SUCCESS)

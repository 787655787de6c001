"""Knowledge bases in the admin: upload, live progress, retry, replace, sharing, search tryout, expiry."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from tenants.admin import DepartmentScopedAdmin
from tenants.admin_site import INDEX_PANELS
from tenants.models import Department
from tenants.roles import Action

from .. import background
from ..knowledge.expiry import expiry_report
from ..knowledge.ingestion import document_retry, knowledge_base_configure
from ..knowledge.retrieval import retrieve
from ..knowledge.uploads import document_upload
from ..models import ApprovedAnswer, Document, KnowledgeBase


def background_unavailable_message(count: int) -> str:
    return gettext("后台任务服务暂不可用：已保存 %(n)s 个文件，服务恢复后将自动开始处理，无需重新上传。") % {"n": count}


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ".pdf,.docx,.txt,.md,.markdown,.html,.htm"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(f, initial) for f in files if f] or super().clean(None)


class UploadForm(forms.Form):
    files = MultipleFileField(label=_("文件"))
    title = forms.CharField(label=_("标题"), required=False, max_length=300)
    issuer = forms.CharField(label=_("发文机关"), required=False, max_length=200)
    number = forms.CharField(label=_("文号"), required=False, max_length=100)
    effective_date = forms.DateField(
        label=_("生效日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    expiry_date = forms.DateField(label=_("失效日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    tags = forms.CharField(label=_("标签"), required=False, help_text=_("用逗号分隔。"))

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("effective_date"), cleaned.get("expiry_date")
        if start and end and end < start:
            self.add_error("expiry_date", gettext("失效日期不能早于生效日期。"))
        return cleaned

    def metadata(self) -> dict:
        data = self.cleaned_data
        tags = [t.strip() for t in data["tags"].replace("，", ",").split(",") if t.strip()]
        return {
            "issuer": data["issuer"],
            "number": data["number"],
            "effective_date": data["effective_date"],
            "expiry_date": data["expiry_date"],
            "tags": tags,
        }


@admin.register(KnowledgeBase)
class KnowledgeBaseAdmin(DepartmentScopedAdmin):
    list_display = ["name", "department", "embedding_label", "document_count", "approved_count", "created_at"]
    list_filter = ["department"]
    search_fields = ["name", "description"]
    filter_horizontal = ["granted_departments"]
    readonly_fields = ["dimension", "index_status"]
    fields = [
        "department",
        "name",
        "description",
        "embedding_endpoint",
        "embedding_model",
        "dimension",
        "index_status",
        "chunk_size",
        "chunk_overlap",
        "group_short_articles",
        "vector_weight",
        "keyword_weight",
        "rerank_endpoint",
        "rerank_model",
        "rerank_top_n",
        "contains_personal_data",
        "granted_departments",
    ]

    @admin.display(description=_("索引状态"))
    def index_status(self, obj):
        if obj.pk and obj.needs_reembedding:
            return _("正在用新的向量模型重建索引；完成前，原索引继续提供检索。")
        return _("索引与所选向量模型一致。")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if knowledge_base_configure(knowledge_base=obj):
            self.message_user(
                request, gettext("向量模型已更改，后台正在重建索引；完成前原索引继续提供检索。"), messages.INFO
            )

    @admin.display(description=_("向量模型"))
    def embedding_label(self, obj):
        return obj.embedding_label

    @admin.display(description=_("文档数"), ordering="active_documents")
    def document_count(self, obj):
        return obj.active_documents

    @admin.display(description=_("经审核的问答"), ordering="active_approved")
    def approved_count(self, obj):
        url = reverse("admin:agents_approvedanswer_changelist") + f"?knowledge_base__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, obj.active_approved)

    def get_queryset(self, request):
        # Counted in the list query, not once per row (a subquery: two joined counts would multiply).
        approved = (
            ApprovedAnswer.objects.filter(knowledge_base=OuterRef("pk"), is_active=True)
            .values("knowledge_base")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                active_documents=Count("documents", filter=Q(documents__is_active=True)),
                active_approved=Coalesce(Subquery(approved), 0),
            )
        )

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "granted_departments":
            # Sharing read-only with another department is an explicit grant: list them all.
            kwargs["queryset"] = Department.objects.filter(is_active=True)
            return admin.ModelAdmin.formfield_for_manytomany(self, db_field, request, **kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_urls(self):
        return [
            path(
                "<int:object_id>/upload/",
                self.admin_site.admin_view(self.upload_view),
                name="agents_knowledgebase_upload",
            ),
            path(
                "<int:object_id>/search/",
                self.admin_site.admin_view(self.search_view),
                name="agents_knowledgebase_search",
            ),
            *super().get_urls(),
        ]

    def upload_view(self, request, object_id):
        kb = self.get_object(request, str(object_id))
        if not self.has_change_permission(request, kb):
            raise PermissionDenied
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            created, refused = 0, []
            with background.watch() as outage:
                for uploaded in form.cleaned_data["files"]:
                    try:
                        with transaction.atomic():
                            document_upload(
                                knowledge_base=kb,
                                uploaded_file=uploaded,
                                user=request.user,
                                title=form.cleaned_data["title"],
                                **form.metadata(),
                            )
                        created += 1
                    except ValidationError as exc:
                        refused.extend(exc.messages)
            if created and outage.happened:
                self.message_user(request, background_unavailable_message(created), messages.WARNING)
            elif created:
                self.message_user(
                    request, gettext("已上传 %(n)s 个文件，正在后台处理。") % {"n": created}, messages.SUCCESS
                )
            for reason in refused:
                self.message_user(request, reason, messages.ERROR)
            return redirect(reverse("admin:agents_document_changelist") + f"?knowledge_base__id__exact={kb.pk}")
        from django.conf import settings

        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": kb,
            "form": form,
            "title": gettext("上传文档到“%(kb)s”") % {"kb": kb.name},
            "limit_mb": settings.SHUZHI_UPLOAD_MAX_MB,
        }
        return TemplateResponse(request, "admin/agents/knowledgebase/upload.html", context)

    def search_view(self, request, object_id):
        kb = self.get_object(request, str(object_id))
        query = request.GET.get("q", "").strip()[:500]
        allow_expired = request.GET.get("expired") == "1"
        hits = retrieve(knowledge_bases=[kb], query=query, top_k=10, allow_expired=allow_expired) if query else []
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": kb,
            "query": query,
            "hits": hits,
            "allow_expired": allow_expired,
            "title": gettext("检索测试：%(kb)s") % {"kb": kb.name},
        }
        return TemplateResponse(request, "admin/agents/knowledgebase/search.html", context)


def _status_label(document: Document) -> str:
    if document.status in (Document.Status.PARSING, Document.Status.EMBEDDING):
        return f"{document.get_status_display()} {document.progress}%"
    return document.get_status_display()


EDITABLE_DOCUMENT_FIELDS = {"title", "issuer", "number", "effective_date", "expiry_date", "tags", "is_active"}


@admin.register(Document)
class DocumentAdmin(DepartmentScopedAdmin):
    list_display = [
        "title",
        "knowledge_base",
        "number",
        "effective_date",
        "expiry_date",
        "status_badge",
        "passage_count",
        "is_active",
    ]
    list_filter = ["status", "is_active", "knowledge_base", "knowledge_base__department"]
    search_fields = ["title", "number", "issuer", "original_name"]
    list_select_related = ["knowledge_base"]
    actions = ["retry", "deactivate", "activate"]
    fields = [
        "knowledge_base",
        "title",
        "issuer",
        "number",
        "effective_date",
        "expiry_date",
        "tags",
        "is_active",
        "status_badge",
        "error",
        "original_name",
        "kind",
        "size",
        "sha256",
        "passage_count",
        "replaces",
        "uploaded_by",
        "created_at",
    ]
    # Everything but the metadata an admin edits is set by upload and ingestion.
    readonly_fields = [f for f in fields if f not in EDITABLE_DOCUMENT_FIELDS]

    @admin.display(description=_("状态"), ordering="status")
    def status_badge(self, obj):
        return format_html(
            '<span class="doc-status" data-document-id="{}" data-status="{}" title="{}">{}</span>',
            obj.pk,
            obj.status,
            obj.error,
            _status_label(obj),
        )

    def has_add_permission(self, request, *args):
        return False  # documents arrive through a knowledge base's upload page (many files at once)

    @admin.action(description=_("重试所选文档"))
    def retry(self, request, queryset):
        count = 0
        for document in queryset.filter(status=Document.Status.FAILED):
            document_retry(document=document)
            count += 1
        self.message_user(request, gettext("已重新排队 %(n)s 个文档。") % {"n": count}, messages.SUCCESS)

    @admin.action(description=_("停用所选文档（不再用于回答）"))
    def deactivate(self, request, queryset):
        self._set_active(queryset, False)

    @admin.action(description=_("启用所选文档"))
    def activate(self, request, queryset):
        self._set_active(queryset, True)

    @staticmethod
    def _set_active(queryset, active: bool) -> None:
        # One save per document, so each change reaches the audit log.
        for document in queryset:
            document.is_active = active
            document.save(update_fields=["is_active", "updated_at"])

    def get_urls(self):
        return [
            path("progress/", self.admin_site.admin_view(self.progress_view), name="agents_document_progress"),
            path(
                "<int:object_id>/replace/",
                self.admin_site.admin_view(require_POST(self.replace_view)),
                name="agents_document_replace",
            ),
            *super().get_urls(),
        ]

    def progress_view(self, request):
        ids = [int(i) for i in request.GET.get("ids", "").split(",") if i.strip().isdigit()][:200]
        documents = self.get_queryset(request).filter(pk__in=ids)
        return JsonResponse(
            {
                str(d.pk): {"status": d.status, "progress": d.progress, "label": _status_label(d), "error": d.error}
                for d in documents
            }
        )

    def replace_view(self, request, object_id):
        old = self.get_object(request, str(object_id))
        if old is None:
            raise Http404  # another department's document, like one that does not exist
        if not self.has_change_permission(request, old) or "file" not in request.FILES:
            raise PermissionDenied
        try:
            with transaction.atomic():
                new = document_upload(
                    knowledge_base=old.knowledge_base,
                    uploaded_file=request.FILES["file"],
                    user=request.user,
                    replaces=old,
                    title=old.title,
                    issuer=old.issuer,
                    number=old.number,
                    effective_date=old.effective_date,
                    expiry_date=old.expiry_date,
                    tags=old.tags,
                )
        except ValidationError as exc:
            for reason in exc.messages:
                self.message_user(request, reason, messages.ERROR)
            return redirect(reverse("admin:agents_document_change", args=[old.pk]))
        self.message_user(request, gettext("新版本已上传，处理完成后将替换旧版本。"), messages.SUCCESS)
        return redirect(reverse("admin:agents_document_change", args=[new.pk]))


def expiry_panel(request):
    """The admin home's list of documents expiring soon or expired, for the user's departments."""
    if not request.user.is_active:
        return None
    report = expiry_report(documents=Document.objects.restrict(request.user, Action.MANAGE))
    if not report["expiring"] and not report["expired"]:
        return None
    return {"template": "admin/agents/expiry_panel.html", **report}


INDEX_PANELS.append(expiry_panel)

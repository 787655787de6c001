"""Documents about to expire, or expired, and the warnings sent about them."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tenants.models import Department, Membership
from tenants.roles import Role

from ..models import Document


def expiry_report(*, documents, days: int | None = None, today=None) -> dict:
    """Active documents expiring within ``days`` and those already expired, from a scoped queryset."""
    today = today or timezone.localdate()
    days = settings.SHUZHI_EXPIRY_WARNING_DAYS if days is None else days
    active = documents.filter(is_active=True, expiry_date__isnull=False).select_related("knowledge_base")
    return {
        "days": days,
        "expiring": list(
            active.filter(expiry_date__gte=today, expiry_date__lte=today + timedelta(days=days)).order_by("expiry_date")
        ),
        "expired": list(active.filter(expiry_date__lt=today).order_by("-expiry_date")),
    }


def expiry_warnings_send(*, today=None) -> int:
    """E-mail each department's admins the documents expiring soon or expired; return mails sent."""
    sent = 0
    for department in Department.objects.filter(is_active=True):
        report = expiry_report(documents=Document.objects.in_departments([department.pk]), today=today)
        if not report["expiring"] and not report["expired"]:
            continue
        admins = (
            Membership.objects.filter(department=department, role=Role.ADMIN, user__is_active=True)
            .exclude(user__email="")
            .select_related("user")
        )
        recipients = sorted({m.user.email for m in admins})
        if not recipients:
            continue
        with translation.override(settings.LANGUAGE_CODE):
            lines = [_("%(dept)s 知识库文档有效期提醒：") % {"dept": department.name}, ""]
            if report["expiring"]:
                lines.append(_("%(days)s 天内到期：") % {"days": report["days"]})
                lines += [f"  · {d.title}（{d.number or '—'}）{d.expiry_date:%Y-%m-%d}" for d in report["expiring"]]
            if report["expired"]:
                lines.append(_("已过期（不再用于回答）："))
                lines += [f"  · {d.title}（{d.number or '—'}）{d.expiry_date:%Y-%m-%d}" for d in report["expired"]]
            lines += ["", _("请在管理后台更新或停用这些文档。")]
            subject = _("【数智员工平台】%(dept)s：%(n)s 份文档即将到期或已过期") % {
                "dept": department.name,
                "n": len(report["expiring"]) + len(report["expired"]),
            }
        send_mail(subject, "\n".join(lines), None, recipients)
        sent += 1
    return sent

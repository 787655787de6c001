"""The audit admin downloads the log of their departments, filtered as the list shows it; the download is recorded."""

import csv
import io

from django.urls import reverse
from openpyxl import load_workbook

from tenants.models import AuditEntry
from tests.tenants.audit_helpers import backdated_entry

CHANGELIST = "admin:tenants_auditentry_changelist"


def export_url(file_format: str, query: str = "") -> str:
    return reverse("admin:tenants_auditentry_export", args=[file_format]) + query


def csv_rows(response) -> list[dict]:
    text = b"".join(response.streaming_content if response.streaming else [response.content]).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_the_audit_admin_downloads_a_filtered_csv_of_only_their_departments_entries(login, tenant_a, tenant_b):
    backdated_entry(department=tenant_a.department, days_ago=3, object_repr="甲局的政策问答助手")
    backdated_entry(department=tenant_b.department, days_ago=3, object_repr="乙局的政策问答助手")
    client = login(tenant_a.auditor)
    page = client.get(reverse(CHANGELIST) + "?q=政策问答").content.decode()
    assert "导出 CSV" in page and export_url("csv", "?q=%E6%94%BF%E7%AD%96%E9%97%AE%E7%AD%94") in page

    response = client.get(export_url("csv"), {"q": "政策问答"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = csv_rows(response)
    assert [row["对象"] for row in rows] == ["甲局的政策问答助手"]
    assert rows[0]["部门"] == str(tenant_a.department) and rows[0]["操作"] == "修改"

    # Naming another department in the filter finds nothing of it.
    assert csv_rows(client.get(export_url("csv"), {"department": tenant_b.department.pk})) == []
    everything = csv_rows(client.get(export_url("csv")))
    assert everything and {row["部门"] for row in everything} == {str(tenant_a.department)}


def test_each_export_is_recorded_as_a_security_event(login, tenant_a, tenant_b):
    backdated_entry(department=tenant_a.department, days_ago=1, object_repr="甲局的记录")
    login(tenant_a.auditor).get(export_url("xlsx"), {"kind": "update"})
    event = AuditEntry.objects.filter(kind=AuditEntry.Kind.AUDIT_EXPORTED).get()
    assert event.actor == tenant_a.auditor and event.department == tenant_a.department and event.via == "admin"
    assert event.changes == {"format": "xlsx", "rows": 1, "filters": {"kind": ["update"]}}


def test_the_excel_file_holds_the_same_rows(login, tenant_a, tenant_b):
    backdated_entry(department=tenant_a.department, days_ago=2, object_repr='=HYPERLINK("http://evil")')
    backdated_entry(department=tenant_b.department, days_ago=2, object_repr="乙局的记录")
    response = login(tenant_a.auditor).get(export_url("xlsx"), {"kind": "update"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "时间" and len(rows) == 2
    assert rows[1][6] == '\'=HYPERLINK("http://evil")'  # shown as text, never run as a formula


def test_people_who_do_not_read_the_log_cannot_export_it(login, tenant_a, tenant_b):
    backdated_entry(department=tenant_a.department, days_ago=1)
    for person in (tenant_a.staff, tenant_a.leader):
        response = login(person).get(export_url("csv"))
        assert response.status_code == 302 and "login" in response["Location"]
    assert login(tenant_a.security).get(export_url("csv")).status_code == 403
    assert not AuditEntry.objects.filter(kind=AuditEntry.Kind.AUDIT_EXPORTED).exists()

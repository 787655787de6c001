"""Each day's audit entries are archived to signed files in a hash chain; a changed or missing file is detected."""

import hashlib
import json
import os
from datetime import datetime, time, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tenants.audit_archive import audit_archive_verify
from tenants.tasks import archive_audit_log
from tests.tenants.audit_helpers import backdated_entry


def noon(days_ago: int) -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate() - timedelta(days=days_ago), time(12)))


@pytest.fixture
def archive(tmp_path, settings, tenant_a, tenant_b):
    settings.SHUZHI_AUDIT_ARCHIVE_DIR = str(tmp_path / "archive")
    backdated_entry(department=tenant_a.department, at=noon(3), object_repr="三天前的修改")
    backdated_entry(department=tenant_b.department, at=noon(1), object_repr="昨天的修改")
    assert archive_audit_log() == 3  # three days ago, the day without entries after it, and yesterday
    return tmp_path / "archive"


def files(directory):
    return sorted(directory.glob("audit-*.jsonl"))


def verify() -> str:
    out = StringIO()
    call_command("audit_verify", stdout=out, stderr=StringIO())
    return out.getvalue()


def tamper(path, old: str, new: str):
    os.chmod(path, 0o644)
    path.write_text(path.read_text().replace(old, new))


def test_the_previous_days_are_archived_once_each_in_a_chain(archive):
    first, empty, last = files(archive)
    assert first.name == f"audit-{(timezone.localdate() - timedelta(days=3)).isoformat()}.jsonl"
    lines = [json.loads(line) for line in last.read_text().splitlines()]
    assert lines[0]["previous_file"] == empty.name and lines[0]["entries"] == 1
    assert lines[1]["object_repr"] == "昨天的修改"
    assert json.loads(empty.read_text().splitlines()[0])["entries"] == 0
    assert oct(last.stat().st_mode & 0o777) == "0o444"  # written read-only
    before = [p.read_bytes() for p in files(archive)]
    assert archive_audit_log() == 0  # already archived: nothing is rewritten
    assert [p.read_bytes() for p in files(archive)] == before
    assert "已校验 3 个文件" in verify()


def test_an_edited_entry_is_detected(archive):
    first = files(archive)[0]
    tamper(first, "三天前的修改", "三天前的查询")
    with pytest.raises(CommandError, match="审计日志归档校验未通过"):
        verify()


def test_a_file_rewritten_and_rehashed_without_the_key_is_detected(archive, settings):
    first, second, _last = files(archive)
    lines = first.read_bytes().splitlines(keepends=True)
    body = b"".join(lines[:-1]).replace("三天前的修改".encode(), "没有修改".encode())
    trailer = json.loads(lines[-1])
    trailer["sha256"] = hashlib.sha256(body).hexdigest()
    os.chmod(first, 0o644)
    first.write_bytes(body + (json.dumps(trailer) + "\n").encode())
    _checked, problems = audit_archive_verify()
    assert any(first.name in p and "签名无效" in p for p in problems)
    assert any(second.name in p and "哈希链断开" in p for p in problems)


def test_a_removed_file_is_detected(archive):
    _first, empty, last = files(archive)
    empty.unlink()
    _checked, problems = audit_archive_verify()
    assert any("之前缺少" in p and empty.name[len("audit-") : -len(".jsonl")] in p for p in problems)
    assert any(last.name in p and "哈希链断开" in p for p in problems)

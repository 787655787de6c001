"""The audit log archived day by day to signed, append-only files that form a hash chain.

Each day's entries go to ``audit-YYYY-MM-DD.jsonl`` under ``SHUZHI_AUDIT_ARCHIVE_DIR``: a header line
naming the previous day's file and its SHA-256, one line per entry, and a trailer with the SHA-256 of
everything above it and an HMAC of that digest keyed by the platform's secret. A file is written
once (never overwritten, left read-only) and a day without entries still gets one, so that a file
removed, edited or re-signed without the key breaks the chain: :func:`audit_archive_verify` says where.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import date, datetime, time, timedelta
from pathlib import Path

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

PREFIX = "audit-"
SUFFIX = ".jsonl"
HMAC_SALT = "shuzhi.audit-archive"
FIELDS = (
    "id",
    "at",
    "actor_id",
    "actor_name",
    "department_id",
    "kind",
    "model",
    "object_id",
    "object_repr",
    "changes",
    "request_id",
    "via",
)


def archive_dir() -> Path:
    return Path(settings.SHUZHI_AUDIT_ARCHIVE_DIR)


def _line(data: dict) -> bytes:
    return (json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True) + "\n").encode()


def _signature(digest: str, secret=None) -> str:
    return salted_hmac(HMAC_SALT, digest, secret=secret, algorithm="sha256").hexdigest()


def _day_of(path: Path) -> date:
    return date.fromisoformat(path.name[len(PREFIX) : -len(SUFFIX)])


def _files(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"{PREFIX}*{SUFFIX}")) if directory.is_dir() else []


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def _write_day(directory: Path, day: date, previous: Path | None) -> Path:
    from .models import AuditEntry

    start, end = _bounds(day)
    entries = AuditEntry.objects.filter(at__gte=start, at__lt=end).order_by("at", "id").values(*FIELDS)
    lines = [_line({name: entry[name] for name in FIELDS}) for entry in entries]
    header = _line(
        {
            "day": day,
            "entries": len(lines),
            "previous_file": previous.name if previous else "",
            "previous_sha256": hashlib.sha256(previous.read_bytes()).hexdigest() if previous else "",
        }
    )
    body = header + b"".join(lines)
    digest = hashlib.sha256(body).hexdigest()
    content = body + _line({"sha256": digest, "signature": _signature(digest)})
    path = directory / f"{PREFIX}{day.isoformat()}{SUFFIX}"
    partial = directory / f".{path.name}.partial"
    with open(partial, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(partial, 0o444)
    os.link(partial, path)  # fails rather than replace a file already written
    partial.unlink()
    return path


def archived_until() -> datetime | None:
    """Entries recorded before this moment are in the archive (None: nothing is archived yet)."""
    existing = _files(archive_dir())
    return _bounds(_day_of(existing[-1]))[1] if existing else None


def audit_log_archive(*, until: date | None = None) -> list[Path]:
    """Archive every day not archived yet, up to ``until`` (default: yesterday). Returns the new files."""
    from .models import AuditEntry

    directory = archive_dir()
    directory.mkdir(parents=True, exist_ok=True)
    until = until or timezone.localdate() - timedelta(days=1)
    existing = _files(directory)
    if existing:
        day = _day_of(existing[-1]) + timedelta(days=1)
    else:
        first = AuditEntry.objects.order_by("at").values_list("at", flat=True).first()
        if first is None:
            return []
        day = timezone.localtime(first).date()
    previous = existing[-1] if existing else None
    written = []
    while day <= until:
        previous = _write_day(directory, day, previous)
        written.append(previous)
        day += timedelta(days=1)
    return written


def _file_problems(path: Path, previous: Path | None, secrets: list) -> list[str]:
    name = path.name
    lines = path.read_bytes().splitlines(keepends=True)
    try:
        header, trailer = json.loads(lines[0]), json.loads(lines[-1])
        body = b"".join(lines[:-1])
        if len(lines) < 2 or hashlib.sha256(body).hexdigest() != trailer["sha256"]:
            return [_("%(file)s：内容与记录的摘要不符，文件被改动过。") % {"file": name}]
        if not any(hmac.compare_digest(_signature(trailer["sha256"], s), trailer["signature"]) for s in secrets):
            return [_("%(file)s：签名无效，文件不是本平台写入的。") % {"file": name}]
        problems = []
        if header["entries"] != len(lines) - 2 or header["day"] != _day_of(path).isoformat():
            problems.append(_("%(file)s：条目数或日期与文件头不符。") % {"file": name})
        expected_hash = hashlib.sha256(previous.read_bytes()).hexdigest() if previous else ""
        if header["previous_file"] != (previous.name if previous else "") or header["previous_sha256"] != expected_hash:
            problems.append(_("%(file)s：与前一个文件的哈希链断开（前一个文件缺失或被改动）。") % {"file": name})
        return problems
    except (ValueError, KeyError, IndexError, TypeError):
        return [_("%(file)s：无法读取，文件被改动过。") % {"file": name}]


def audit_archive_verify(*, directory: Path | None = None) -> tuple[int, list[str]]:
    """Check every archive file and the chain between them: (files checked, problems found)."""
    directory = directory or archive_dir()
    secrets = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    files = _files(directory)
    problems = []
    previous = None
    for path in files:
        if previous is not None and _day_of(path) != _day_of(previous) + timedelta(days=1):
            problems.append(
                _("%(file)s 之前缺少 %(day)s 的文件。")
                % {"file": path.name, "day": (_day_of(previous) + timedelta(days=1)).isoformat()}
            )
        problems.extend(_file_problems(path, previous, secrets))
        previous = path
    return len(files), problems

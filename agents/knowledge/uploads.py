"""The one upload rule, and storing an uploaded knowledge document.

Every entry point that takes a file from a user checks it here, the same way: the admin's upload
and replace, the REST API's upload, and the workspace's chat attachments. A file is refused, with a
sentence in the user's language naming it, when

- its name is unsafe (a path, "..", control characters) or has no supported extension;
- it is larger than the limit (``SHUZHI_UPLOAD_MAX_MB``, or a lower one the entry point sets);
- its content is not what its extension says: a program renamed ``.pdf``, an HTML page renamed
  ``.docx``, a binary named ``.txt``;
- a zip container (DOCX, OFD) breaks the rule for zip containers (too many members, too large once
  decompressed, a zip bomb);
- the same content (by SHA-256) is already there.

Nothing is stored for a refused file. Refusals are ``ValidationError`` with a ``code``:
``file_name``, ``file_type``, ``file_too_large`` or ``duplicate``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _

from ..models import Document, KnowledgeBase
from .sniffing import ParseError, filename_check, sniff_kind

__all__ = [
    "CheckedUpload",
    "document_enqueue",
    "document_upload",
    "upload_check",
    "upload_limit_bytes",
    "upload_refused",
]


@dataclass(frozen=True)
class CheckedUpload:
    """A file that passed the upload rule: its name (a label only), kind, bytes and SHA-256."""

    name: str
    kind: str
    data: bytes
    sha256: str

    @property
    def size(self) -> int:
        return len(self.data)


def upload_limit_bytes() -> int:
    return settings.SHUZHI_UPLOAD_MAX_MB * 1024 * 1024


def upload_refused(*, name: str, reason: str, code: str = "file_type") -> ValidationError:
    """The refusal of the file ``name``, as one sentence naming it."""
    return ValidationError(_("未能上传“%(name)s”：%(reason)s") % {"name": name, "reason": reason}, code=code)


def upload_check(
    *, uploaded_file, limit_mb: int | None = None, kinds: Collection[str] | None = None, kinds_label: str = ""
) -> CheckedUpload:
    """Check ``uploaded_file`` against the upload rule and return it read; ValidationError otherwise.

    ``limit_mb`` lowers the size limit below ``SHUZHI_UPLOAD_MAX_MB`` (never raises it); ``kinds``
    narrows the accepted kinds ("pdf", "docx", "ofd", "txt", "md", "html"), ``kinds_label`` naming them
    for the user. The size is checked before a byte is read.
    """
    raw_name = uploaded_file.name or ""
    try:
        name = filename_check(raw_name)
    except ParseError as exc:
        raise upload_refused(name=raw_name, reason=str(exc), code="file_name") from None
    mb = min(settings.SHUZHI_UPLOAD_MAX_MB, limit_mb or settings.SHUZHI_UPLOAD_MAX_MB)
    if uploaded_file.size is None or uploaded_file.size > mb * 1024 * 1024:
        raise ValidationError(
            _("文件“%(name)s”超过大小上限 %(mb)s MB。") % {"name": name, "mb": mb}, code="file_too_large"
        )
    uploaded_file.seek(0)
    data = uploaded_file.read(mb * 1024 * 1024 + 1)
    uploaded_file.seek(0)
    if len(data) > mb * 1024 * 1024:  # a size that lied
        raise ValidationError(
            _("文件“%(name)s”超过大小上限 %(mb)s MB。") % {"name": name, "mb": mb}, code="file_too_large"
        )
    try:
        kind = sniff_kind(data, name)
    except ParseError as exc:
        raise upload_refused(name=name, reason=str(exc)) from None
    if kinds is not None and kind not in kinds:
        raise upload_refused(name=name, reason=_("这里只接受 %(types)s 文件。") % {"types": kinds_label})
    return CheckedUpload(name=name, kind=kind, data=data, sha256=hashlib.sha256(data).hexdigest())


def document_upload(
    *, knowledge_base: KnowledgeBase, uploaded_file, user=None, replaces: Document | None = None, **metadata
) -> Document:
    """Store an uploaded file as a queued document of ``knowledge_base`` and schedule its ingestion.

    The file must pass the upload rule, and no active document of the knowledge base may have the
    same content (a replacement identical to the document it replaces is refused too). The file is
    kept under a server-generated name; the user's name is only a label.
    """
    checked = upload_check(uploaded_file=uploaded_file)
    duplicate = Document.objects.filter(knowledge_base=knowledge_base, sha256=checked.sha256, is_active=True).first()
    if duplicate is not None:
        raise ValidationError(
            _("文件“%(name)s”与已有文档“%(title)s”内容相同，未重复上传。")
            % {"name": checked.name, "title": duplicate.title},
            code="duplicate",
        )
    document = Document(
        knowledge_base=knowledge_base,
        original_name=checked.name[:255],
        sha256=checked.sha256,
        size=checked.size,
        kind=checked.kind,
        uploaded_by=user,
        replaces=replaces,
        title=(metadata.pop("title", "") or checked.name.rsplit(".", 1)[0])[:300],
        **metadata,
    )
    document.file.save(checked.name, ContentFile(checked.data), save=False)
    document.save()
    document_enqueue(document=document)
    return document


def document_enqueue(*, document: Document) -> None:
    """Schedule the document's ingestion once the transaction that stored it commits."""
    from ..background import task_send
    from ..tasks import ingest_document  # the tasks module imports the knowledge services

    # With the broker down the document stays queued; the watchdog queues it again once it is back.
    transaction.on_commit(lambda: task_send(ingest_document, document.pk))

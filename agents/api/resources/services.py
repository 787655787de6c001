"""Writes of the REST resources: a document uploaded by another system."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from tenants.models import ApiKey

from ...knowledge.ingestion import document_upload, upload_limit_bytes
from ...knowledge.parsing import ParseError, sniff_kind
from ...models import Document, KnowledgeBase


def api_document_upload(*, key: ApiKey, knowledge_base: KnowledgeBase, uploaded_file, **metadata) -> Document:
    """Store an uploaded file as a queued document of ``knowledge_base`` and schedule its ingestion.

    Besides what the admin's upload refuses (too large, a path in the name, the same file already
    there), the file's content must be a supported type matching its extension: the caller learns at
    once instead of finding a failed document later. Raises ValidationError (a sentence in the
    caller's language) and writes nothing when refused. The document has no uploader (a key is not a
    person); the audit log names the key.
    """
    if uploaded_file.size <= upload_limit_bytes():
        data = uploaded_file.read()
        uploaded_file.seek(0)
        try:
            sniff_kind(data, uploaded_file.name or "")
        except ParseError as exc:
            raise ValidationError(str(exc)) from exc
    with transaction.atomic():
        return document_upload(knowledge_base=knowledge_base, uploaded_file=uploaded_file, user=None, **metadata)

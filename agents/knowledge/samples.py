"""The fictional policy documents shipped for the demo and the retrieval-quality command."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

DEMO_DOCS = Path(__file__).resolve().parent / "demo_docs"


def load_sample_documents(folder: Path = DEMO_DOCS) -> list[dict]:
    """Each ``*.md`` file's front matter (between ``+++`` lines) and body."""
    documents = []
    for path in sorted(folder.glob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        text = path.read_text(encoding="utf-8")
        _, front, body = text.split("+++", 2)
        meta = tomllib.loads(front)
        documents.append(
            {
                "file": path.name,
                "body": body.strip() + "\n",
                "title": meta["title"],
                "issuer": meta.get("issuer", ""),
                "number": meta.get("number", ""),
                "tags": meta.get("tags", []),
                "department": meta.get("department", ""),
                "effective_date": _date(meta.get("effective")),
                "expiry_date": _date(meta.get("expires")),
            }
        )
    return documents


def _date(value):
    if value in (None, ""):
        return None
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))

"""Retrieval quality on the labelled question set over the sample policy documents."""

import json
import re
from io import StringIO
from pathlib import Path

from django.core.management import call_command

from agents.knowledge.samples import load_sample_documents

QUESTIONS = json.loads((Path(__file__).parent / "retrieval_set.json").read_text(encoding="utf-8"))


def test_the_labelled_set_is_sound():
    documents = {d["file"]: d for d in load_sample_documents()}
    assert len(documents) >= 20 and len(QUESTIONS) >= 50
    for q in QUESTIONS:
        assert q["answer_contains"] in documents[q["document"]]["body"], q
        others = [f for f, d in documents.items() if f != q["document"] and q["answer_contains"] in d["body"]]
        assert others == [], q


def test_recall_at_5_and_mrr_over_the_sample_documents(db):
    out = StringIO()
    call_command("retrieval_quality", "--k", "5", stdout=out)
    numbers = dict(re.findall(r"(recall@5|MRR)=([0-9.]+)", out.getvalue()))
    assert float(numbers["recall@5"]) >= 0.9, out.getvalue()
    assert float(numbers["MRR"]) >= 0.8, out.getvalue()

"""Measure retrieval quality on a labelled question set: recall@k and MRR.

Loads the sample policy documents into a throw-away knowledge base (inside a transaction rolled
back at the end), asks every question, and counts a question answered when one of the top k
passages contains its ``answer_contains`` text from the right document.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand
from django.db import transaction

from agents.knowledge.ingestion import document_from_sample, document_ingest
from agents.knowledge.retrieval import retrieve
from agents.knowledge.samples import DEMO_DOCS, load_sample_documents
from agents.models import KnowledgeBase
from tenants.models import Department

DEFAULT_SET = Path(__file__).resolve().parents[3] / "tests" / "agents" / "knowledge" / "retrieval_set.json"


class Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "Print recall@k and MRR of retrieval over the sample documents for a labelled question set."

    def add_arguments(self, parser):
        parser.add_argument(
            "--set", default=str(DEFAULT_SET), help="JSON list of {question, document, answer_contains}"
        )
        parser.add_argument("--docs", default=str(DEMO_DOCS), help="folder of front-matter Markdown documents")
        parser.add_argument("--k", type=int, default=5)
        parser.add_argument("--show-misses", action="store_true")

    def handle(self, *args, **options):
        questions = json.loads(Path(options["set"]).read_text(encoding="utf-8"))
        try:
            with transaction.atomic():
                result = self._measure(questions, Path(options["docs"]), options["k"], options["show_misses"])
                raise Rollback
        except Rollback:
            pass
        self.stdout.write(
            f"questions={result['n']} recall@{options['k']}={result['recall']:.3f} MRR={result['mrr']:.3f}"
        )
        return None

    def _measure(self, questions, folder, k, show_misses):
        department = Department.objects.create(name="检索质量评测", code="retrieval-quality-tmp")
        kb = KnowledgeBase.objects.create(department=department, name="评测知识库")
        by_file = {}
        for sample in load_sample_documents(folder):
            document = document_from_sample(knowledge_base=kb, sample=sample)
            document_ingest(document_id=document.pk)
            by_file[sample["file"]] = document.pk
        hits_at_k, reciprocal = 0, 0.0
        for q in questions:
            # Every sample is searched, whatever its dates: this measures ranking, not validity.
            hits = retrieve(knowledge_bases=[kb], query=q["question"], top_k=k, allow_expired=True)
            rank = next(
                (
                    i
                    for i, h in enumerate(hits, start=1)
                    if h.document_id == by_file[q["document"]] and q["answer_contains"] in h.text
                ),
                None,
            )
            if rank:
                hits_at_k += 1
                reciprocal += 1 / rank
            elif show_misses:
                self.stdout.write(f"miss: {q['question']} -> {[h.citation for h in hits[:3]]}")
        n = len(questions)
        return {"n": n, "recall": hits_at_k / n, "mrr": reciprocal / n}

"""The AI-generated label's texts and metadata (agents.labels), as a reader in either language sees them."""

from __future__ import annotations

import json

from django.template import Context, Template
from django.utils import translation

from agents import labels
from agents.models import Run


def render_label(run) -> str:
    return Template("{% load ai_labels %}{% ai_label run %}").render(Context({"run": run}))


def test_the_visible_label_reads_in_the_readers_language_and_only_on_labelled_runs():
    run = Run(ai_label=True)
    assert render_label(run) == '<p class="ai-label">本内容由人工智能生成（AI 生成），仅供参考</p>'
    with translation.override("en"):
        assert render_label(run) == '<p class="ai-label">AI-generated content, for reference only</p>'
        assert str(labels.DOCUMENT) == "AI-generated content; to be reviewed by a person before use"
    assert render_label(Run(ai_label=False)) == ""


def test_the_implicit_label_names_the_configured_provider_and_the_runs_opaque_id(settings):
    settings.SHUZHI_AI_LABEL_PROVIDER = "示范区数据局"
    run = Run(ai_label=True)
    fields = labels.run_metadata(run)
    assert fields["Label"] == "1" and fields["ContentProducer"] == "示范区数据局"
    assert fields["ProduceID"] == run.uuid.hex and str(run.pk) not in fields["ProduceID"]
    # The metadata does not follow the reader's language: machines read it.
    with translation.override("en"):
        assert json.loads(labels.metadata_json(content="x"))["ContentProducer"] == "示范区数据局"
    assert labels.run_metadata(Run(ai_label=False)) is None

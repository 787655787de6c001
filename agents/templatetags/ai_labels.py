"""``{% ai_label run %}``: the visible AI-generated label under an answer (text from ``agents.labels``)."""

from django import template
from django.utils.html import format_html

from .. import labels

register = template.Library()


@register.simple_tag
def ai_label(run):
    if run is None or not getattr(run, "ai_label", False):
        return ""
    return format_html('<p class="ai-label">{}</p>', labels.VISIBLE)

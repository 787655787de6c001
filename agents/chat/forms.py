"""Forms of the workspace."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class CorrectionForm(forms.Form):
    """A reviewer's correction saved as an approved answer; which knowledge bases they may choose is
    checked by ``run_correction_save``."""

    knowledge_base = forms.IntegerField(label=_("保存到知识库"), error_messages={"required": _("请选择知识库。")})
    question = forms.CharField(label=_("问题"), max_length=2000, error_messages={"required": _("请填写问题。")})
    effective_date = forms.DateField(label=_("生效日期"), required=False)
    expiry_date = forms.DateField(label=_("失效日期"), required=False)

"""Serializer bases shared by the REST resources: input is strict, output is documented.

Every serializer that reads a request body derives from :class:`StrictSerializer` (or
:class:`StrictModelSerializer`): a field the serializer does not declare ("unknown") and a field it
declares read-only (``id``, ``department``, ``status``…) are refused with 400 in the error format
(``fields`` names each one) instead of being silently dropped, so a caller that misspells a field or
tries to set what it may not learns at once, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.translation import gettext as _
from rest_framework import serializers


class StrictInputMixin:
    """Refuse unknown and read-only fields in the input (see the module docstring)."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            readonly = set(self.fields) - writable
            errors = {}
            for name in data:
                if name in readonly:
                    errors[name] = [_("该字段为只读，不能设置。")]
                elif name not in writable:
                    errors[name] = [_("未知字段。")]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class StrictSerializer(StrictInputMixin, serializers.Serializer):
    """A plain serializer that refuses unknown and read-only input fields."""


class StrictModelSerializer(StrictInputMixin, serializers.ModelSerializer):
    """A model serializer that refuses unknown and read-only input fields."""

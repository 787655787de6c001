"""The base ModelAdmin for department-owned models.

Department admins see, choose and change only what belongs to the departments they manage;
platform admins (superusers) see everything. Another department's object answers 404. A model
admin gets all of this by inheriting from :class:`DepartmentScopedAdmin`.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import NotRelationField, get_fields_from_path
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from ..roles import Action
from ..scoping import (
    department_id_of,
    department_ids,
    has_role_anywhere,
    is_department_owned,
    is_shared,
    scope_field_of,
)


class ScopedDepartmentFilter(admin.SimpleListFilter):
    """A department filter that lists only the departments the user manages."""

    title = _("部门")
    parameter_name = "department"

    def lookups(self, request, model_admin):
        from ..models import Department

        action = getattr(model_admin, "scope_action", Action.MANAGE)
        return [(d.pk, str(d)) for d in Department.objects.restrict(request.user, action)]

    def queryset(self, request, queryset):
        if self.value():
            field = scope_field_of(queryset.model)
            return queryset.filter(**{field: self.value()})
        return queryset


class ScopedAdminMixin:
    """Scoping for any ModelAdmin or inline whose model is department-owned."""

    scope_action = Action.MANAGE

    def get_queryset(self, request):
        return super().get_queryset(request).restrict(request.user, self.scope_action)

    def _managed_ids(self, request):
        return department_ids(request.user, self.scope_action)

    def _may(self, request, obj=None) -> bool:
        user = request.user
        if not user.is_active:
            return False
        if user.is_superuser:
            return True
        if not has_role_anywhere(user, self.scope_action):
            return False
        if obj is None:
            return True
        return department_id_of(obj) in self._managed_ids(request)

    def has_module_permission(self, request):
        return self._may(request)

    def has_view_permission(self, request, obj=None):
        # Platform-wide rows are there for every department to look at and choose.
        return self._may(request, obj) or (obj is not None and self._may(request) and is_shared(obj))

    def has_add_permission(self, request, *args):
        return self._may(request)

    def has_change_permission(self, request, obj=None):
        return self._may(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._may(request, obj)

    def _restricted_queryset(self, request, related_model, queryset=None):
        if is_department_owned(related_model):
            base = queryset if queryset is not None else related_model._default_manager.all()
            return base.restrict(request.user, self.scope_action)
        if hasattr(related_model._default_manager, "restrict"):
            return related_model._default_manager.restrict(request.user, self.scope_action)
        return queryset

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        restricted = self._restricted_queryset(request, db_field.related_model, kwargs.get("queryset"))
        if restricted is not None:
            kwargs["queryset"] = restricted
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        restricted = self._restricted_queryset(request, db_field.related_model, kwargs.get("queryset"))
        if restricted is not None:
            kwargs["queryset"] = restricted
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class DepartmentScopedAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Base admin for department-owned models (see the module docstring)."""

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            # Not "does not exist, redirect": a 404 that does not reveal whether it exists.
            raise Http404
        return obj

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        field = form.base_fields.get(scope_field_of(self.model) or "")
        if field is not None and not request.user.is_superuser:
            # Only platform admins register platform-wide rows (no department).
            field.required = True
            field.empty_label = None
        return form

    def get_list_filter(self, request):
        return [self._scoped_filter(name) for name in super().get_list_filter(request)]

    def _scoped_filter(self, name):
        if name == scope_field_of(self.model):
            return ScopedDepartmentFilter
        if isinstance(name, str):
            # A filter on a relation lists every object of the related model, another department's
            # names included: offer only those the rows this admin may see point to.
            try:
                field = get_fields_from_path(self.model, name)[-1]
            except (FieldDoesNotExist, NotRelationField):
                return name
            if field.is_relation:
                return (name, admin.RelatedOnlyFieldListFilter)
        return name

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        field = scope_field_of(self.model)
        ids = self._managed_ids(request)
        if field == "department" and ids and len(ids) == 1:
            initial.setdefault("department", next(iter(ids)))
        return initial

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # Checked again after the save, inside the admin's transaction: a write may never land
        # outside the departments the user manages, whatever the form let through.
        if not self.model._default_manager.changeable_by(request.user, self.scope_action).filter(pk=obj.pk).exists():
            raise PermissionDenied


class DepartmentScopedInline(ScopedAdminMixin, admin.TabularInline):
    """Base inline for department-owned models shown inside another admin page."""

    extra = 0

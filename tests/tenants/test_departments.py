"""The department tree: subtrees, moves, and the guard against cycles."""

import pytest
from django.core.exceptions import ValidationError

from tenants.models import Department
from tenants.roles import Action
from tenants.scoping import department_ids
from tests.factories import make_department


def test_moving_a_department_moves_everything_below_it(tenant_a, tenant_b):
    office = make_department("科室", parent=tenant_a.department)
    team = make_department("小组", parent=office)
    office.parent = tenant_b.department
    office.save()
    team.refresh_from_db()
    assert team.path.startswith(tenant_b.department.path)
    subtree = Department.objects.subtree_of([tenant_b.department])
    assert {office, team, tenant_b.department} == set(subtree)
    assert team not in Department.objects.subtree_of([tenant_a.department])


def test_a_department_cannot_be_placed_under_itself_or_its_descendants(tenant_a, tenant_b):
    office = make_department("科室", parent=tenant_a.department)
    tenant_a.department.parent = office
    with pytest.raises(ValidationError):
        tenant_a.department.full_clean()


def test_leader_scope_follows_a_move(tenant_a, tenant_b):
    office = make_department("科室", parent=tenant_a.department)
    assert office.pk in department_ids(tenant_a.leader, Action.REPORT)
    office.parent = tenant_b.department
    office.save()
    tenant_a.leader.refresh_from_db()
    fresh = type(tenant_a.leader).objects.get(pk=tenant_a.leader.pk)
    assert office.pk not in department_ids(fresh, Action.REPORT)
    assert office.pk in department_ids(type(fresh).objects.get(pk=tenant_b.leader.pk), Action.REPORT)


def test_admins_manage_only_their_own_department_not_those_below(tenant_a, tenant_b):
    office = make_department("科室", parent=tenant_a.department)
    assert department_ids(tenant_a.admin, Action.MANAGE) == frozenset({tenant_a.department.pk})
    assert office.pk not in department_ids(tenant_a.admin, Action.MANAGE)

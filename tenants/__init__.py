"""Departments, memberships and roles, the one scoping API, and the audit log."""

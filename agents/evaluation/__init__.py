"""Agents' test sets: cases, grading, running a set through the one runtime, and the gate on publishing."""

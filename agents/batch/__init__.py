"""Batch runs: one agent run per row of an uploaded CSV or Excel file.

``parsing`` reads the file, ``services`` creates and steers jobs, ``processing`` runs them in a
Celery worker (resumable, each row once), ``results`` writes the answers back as CSV or Excel.
"""

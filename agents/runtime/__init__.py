"""The run pipeline: one service executes an agent for every entry point (chat, API, batch, playground).

``run_stream`` yields events as the answer is generated; ``run_execute`` runs to the end and returns
the stored run. Both resolve the caller and the published version, mask personal data, retrieve,
build the prompt, call the model with tools, apply the output guardrails, queue for review when
required, and persist the trace and the usage exactly once.
"""

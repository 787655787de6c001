"""What ``run_stream`` yields while an agent runs. Texts are masked (placeholders); interfaces unmask
them for viewers entitled to see personal data (``access.may_see_personal_data``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..models import Run


@dataclass
class RunStarted:
    run: Run
    retrieval_only: bool
    requires_review: bool
    # The run's live placeholder mapping (grows as passages are masked): interfaces that stream to an
    # entitled viewer unmask with it as they go.
    mapping: Callable[[], dict[str, str]] = dict


@dataclass
class Sources:
    """The passages retrieved for the prompt, numbered as the answer cites them ([1], [2]…)."""

    hits: list[dict] = field(default_factory=list)


@dataclass
class ToolStep:
    step: dict


@dataclass
class ReasoningDelta:
    text: str


@dataclass
class AnswerDelta:
    text: str


@dataclass
class AnswerReplaced:
    """The answer so far is replaced (a blocking word was found, or structured output was repaired)."""

    text: str


@dataclass
class RunFinished:
    run: Run


RunEvent = RunStarted | Sources | ToolStep | ReasoningDelta | AnswerDelta | AnswerReplaced | RunFinished

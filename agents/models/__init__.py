"""Agent, prompt, tool, knowledge, run and review models."""

from .agents import Agent, AgentVersion
from .approved import ApprovedAnswer
from .batches import BatchJob, BatchRow
from .catalog import Scenario
from .endpoints import ModelEndpoint
from .evaluation import EvalCase, EvalResult, EvalRun
from .knowledge import Document, KnowledgeBase, Passage
from .mcp import McpServer
from .prompts import PromptTemplate, PromptVariable
from .runs import Conversation, DepartmentUsage, Run, UsageCounter
from .safety import SensitiveWordList
from .tools import AllowedHost, Tool

__all__ = [
    "Agent",
    "AgentVersion",
    "AllowedHost",
    "ApprovedAnswer",
    "BatchJob",
    "BatchRow",
    "Conversation",
    "DepartmentUsage",
    "Document",
    "EvalCase",
    "EvalResult",
    "EvalRun",
    "KnowledgeBase",
    "McpServer",
    "ModelEndpoint",
    "Passage",
    "PromptTemplate",
    "PromptVariable",
    "Run",
    "Scenario",
    "SensitiveWordList",
    "Tool",
    "UsageCounter",
]

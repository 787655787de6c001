"""The keyword leg's token vector and length, stored with each passage.

The GIN index over the stored vector replaces the expression index of 0005 (same text, same
'simple' configuration), so the keyword leg matches without parsing every passage's tokens per
question, and BM25 reads the passage length instead of splitting the tokens.
"""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0021_evaluation"),
    ]

    operations = [
        migrations.AddField(
            model_name="passage",
            name="search_vector",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.contrib.postgres.search.SearchVector("tokens", config="simple"),
                output_field=django.contrib.postgres.search.SearchVectorField(),
            ),
        ),
        migrations.AddField(
            model_name="passage",
            name="token_count",
            field=models.GeneratedField(
                db_persist=True,
                expression=models.Func(
                    models.Func(models.F("tokens"), models.Value(" "), function="string_to_array"),
                    models.Value(1),
                    function="array_length",
                ),
                output_field=models.IntegerField(null=True),
            ),
        ),
        migrations.AddIndex(
            model_name="passage",
            index=django.contrib.postgres.indexes.GinIndex(fields=["search_vector"], name="passage_search_vector_gin"),
        ),
        migrations.RunSQL(
            "DROP INDEX IF EXISTS passage_tokens_gin",
            "CREATE INDEX passage_tokens_gin ON agents_passage USING gin (to_tsvector('simple', tokens))",
        ),
    ]

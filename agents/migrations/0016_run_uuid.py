"""Runs get a public uuid (the OpenAI completion id), each existing run its own."""

import uuid

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("agents", "0015_knowledgebase_keyword_weight")]

    operations = [
        migrations.AddField(
            model_name="run", name="uuid", field=models.UUIDField(null=True, editable=False, verbose_name="公开编号")
        ),
        migrations.RunSQL("UPDATE agents_run SET uuid = gen_random_uuid()", migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="run",
            name="uuid",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True, verbose_name="公开编号"),
        ),
    ]

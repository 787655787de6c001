from django.db import migrations, models

# Runs made before the flag existed: a run needed review when it was queued for it, or when its
# version's guardrails asked for review and a model answered. Such a run closed with text but no
# review status (a broken stream) waits for review now instead of being delivered unreviewed.
FORWARD = """
UPDATE agents_run AS r SET review_required = true
  FROM agents_agentversion AS v
 WHERE r.version_id = v.id AND NOT r.retrieval_only
   AND coalesce((v.snapshot_text::jsonb -> 'guardrails' ->> 'requires_review')::boolean, false);
UPDATE agents_run SET review_required = true WHERE review_status <> '';
UPDATE agents_run SET review_status = 'pending'
 WHERE review_required AND review_status = '' AND status <> 'running' AND (answer <> '' OR reasoning <> '');
"""


class Migration(migrations.Migration):
    dependencies = [("agents", "0011_api_keys")]

    operations = [
        migrations.AddField(
            model_name="run",
            name="review_required",
            field=models.BooleanField(default=False, verbose_name="需要审核"),
        ),
        migrations.RunSQL(FORWARD, reverse_sql=migrations.RunSQL.noop),
    ]

"""Published agent versions never change: refuse UPDATE for every client, not only Django."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION agents_agentversion_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'published agent versions cannot be changed';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER agents_agentversion_immutable
    BEFORE UPDATE ON agents_agentversion
    FOR EACH ROW EXECUTE FUNCTION agents_agentversion_immutable();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS agents_agentversion_immutable ON agents_agentversion;
DROP FUNCTION IF EXISTS agents_agentversion_immutable();
"""


class Migration(migrations.Migration):
    dependencies = [("agents", "0002_builder")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]

"""Wake the outbox relay at commit: a NOTIFY on channel `outbox` per inserting statement.

PostgreSQL delivers NOTIFY only when the transaction commits and folds identical ones together,
so a relay LISTENing on the channel publishes promptly without polling hard.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('outbox', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS outbox_notify ON outbox;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
"""

DROP = """
DROP TRIGGER IF EXISTS outbox_notify ON outbox;
DROP FUNCTION IF EXISTS outbox_notify();
"""


class Migration(migrations.Migration):
    dependencies = [("events", "0002_dead_letters")]

    operations = [migrations.RunSQL(CREATE, DROP)]

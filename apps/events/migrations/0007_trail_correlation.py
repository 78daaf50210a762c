"""The correlation id in the inbox, and indexes to find one cart's events in the outbox and the inbox.

(Numbered after 0006; another branch of issue #13 adds an events migration too: renumber at merge.)
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("events", "0006_outbox_bounds")]

    operations = [
        migrations.AddField(
            model_name="processedmessage",
            name="correlation_id",
            field=models.UUIDField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="processedmessage",
            index=models.Index(fields=["correlation_id"], name="processed_correlation_idx"),
        ),
        migrations.AddIndex(
            model_name="outboxevent",
            index=models.Index(fields=["correlation_id"], name="outbox_correlation_idx"),
        ),
    ]

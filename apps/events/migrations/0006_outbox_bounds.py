"""Bounds on the outbox: first publication (the re-drive's window), re-drive count, parked rows."""

from django.db import migrations, models

# Rows published before this migration count as first published when they were last published.
BACKFILL = "UPDATE outbox SET first_published_at = published_at WHERE published_at IS NOT NULL"


class Migration(migrations.Migration):
    dependencies = [("events", "0005_dead_letter_raw_message")]

    operations = [
        migrations.AddField(
            model_name="outboxevent",
            name="first_published_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="outboxevent",
            name="parked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="outboxevent",
            name="redrive_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="outboxevent",
            name="redrive_given_up_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
        migrations.AddIndex(
            model_name="outboxevent",
            index=models.Index(fields=["first_published_at"], name="outbox_first_published_idx"),
        ),
    ]

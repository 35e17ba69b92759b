from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="UserPresence",
            fields=[
                ("user_id", models.CharField(max_length=255, primary_key=True, serialize=False)),
                ("state", models.CharField(default="offline", max_length=16)),
                ("status_msg", models.TextField(null=True)),
                ("last_active_ts", models.BigIntegerField(default=0)),
                ("last_seen_ts", models.BigIntegerField(db_index=True, default=0)),
                ("currently_active", models.BooleanField(default=False)),
                ("stream_position", models.BigIntegerField(db_index=True, default=0)),
                ("pending_state", models.CharField(max_length=16, null=True)),
            ],
            options={"db_table": "presence"},
        ),
    ]

from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="RoomTyping",
            fields=[
                ("room_id", models.CharField(max_length=255, primary_key=True, serialize=False)),
                ("stream_position", models.BigIntegerField(db_index=True, default=0)),
                ("typing", models.JSONField(default=dict)),
                ("next_expiry_ms", models.BigIntegerField(db_index=True, null=True)),
            ],
            options={"db_table": "typing_rooms"},
        ),
    ]

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("push_delivery", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="EmailRoomThrottle",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("pusher_id", models.BigIntegerField()),
                ("room_id", models.CharField(max_length=255)),
                ("last_sent_ms", models.BigIntegerField()),
                ("last_sent_position", models.BigIntegerField()),
                ("throttle_ms", models.BigIntegerField()),
            ],
            options={
                "db_table": "pusher_email_room_throttle",
                "constraints": [models.UniqueConstraint(fields=("pusher_id", "room_id"), name="email_throttle_uniq")],
            },
        ),
    ]

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("federation", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="ReceivedTransaction",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("origin", models.CharField(max_length=255)),
                ("txn_id", models.CharField(max_length=255)),
                ("response_json", models.TextField()),
                ("received_ts", models.BigIntegerField()),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("origin", "txn_id"), name="received_txn_uniq")],
            },
        ),
    ]

from django.db import migrations, models

from apps.streams.stores import sequence_operation

# One PostgreSQL sequence per stream, shared by all its writers (frozen list: a later stream adds its own).
STREAMS = ("events", "typing", "receipts", "account_data", "to_device", "presence", "push_rules",
           "device_lists", "caches")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
    ]

    operations = [
        migrations.CreateModel(
            name='StreamAllocator',
            fields=[
                ('stream', models.CharField(max_length=64, primary_key=True, serialize=False)),
                ('last', models.BigIntegerField(default=0)),
            ],
            options={
                'db_table': 'stream_allocator',
            },
        ),
        migrations.CreateModel(
            name='StreamInstance',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=128, unique=True)),
            ],
            options={
                'db_table': 'stream_instances',
            },
        ),
        migrations.CreateModel(
            name='StreamPosition',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('stream', models.CharField(max_length=64)),
                ('instance', models.CharField(max_length=128)),
                ('position', models.BigIntegerField()),
            ],
            options={
                'db_table': 'stream_positions',
                'constraints': [models.UniqueConstraint(fields=('stream', 'instance'), name='stream_positions_uniq')],
            },
        ),
        sequence_operation(*STREAMS),
    ]

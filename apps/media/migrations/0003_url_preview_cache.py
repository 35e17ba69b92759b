from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('media', '0002_remote_media'),
    ]

    operations = [
        migrations.CreateModel(
            name='UrlPreview',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('url_hash', models.CharField(db_index=True, help_text='SHA-256 of the URL (URLs are long).', max_length=64)),
                ('url', models.TextField()),
                ('og', models.JSONField(default=dict, help_text='The OpenGraph object returned to clients.')),
                ('media_id', models.CharField(blank=True, max_length=255, null=True)),
                ('download_ts', models.BigIntegerField()),
                ('expires_ts', models.BigIntegerField(db_index=True)),
            ],
            options={
                'db_table': 'media_url_cache',
            },
        ),
    ]

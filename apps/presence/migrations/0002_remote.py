from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [("presence", "0001_initial")]

    operations = [
        migrations.AddField(model_name="userpresence", name="remote", field=models.BooleanField(default=False)),
    ]

"""Each user's presence (client-server API, "Presence"): one row per user, written by the `presence`
stream's writer; `stream_position` is the position of its last change that clients see."""
from django.db import models


class UserPresence(models.Model):
    user_id = models.CharField(max_length=255, primary_key=True)
    state = models.CharField(max_length=16, default="offline")
    status_msg = models.TextField(null=True)
    # The last pro-active action (presence set, coming online): `last_active_ago` is measured from it.
    last_active_ts = models.BigIntegerField(default=0)
    # The last /sync or presence request of the user: the offline timeout counts from it.
    last_seen_ts = models.BigIntegerField(default=0, db_index=True)
    currently_active = models.BooleanField(default=False)
    # A user of another server: their presence comes in EDUs, their server runs their timeouts.
    remote = models.BooleanField(default=False)
    stream_position = models.BigIntegerField(default=0, db_index=True)
    # A state a /sync served by a process that does not write presence asked for (`set_presence`); the
    # writer's loop applies it and clears it.
    pending_state = models.CharField(max_length=16, null=True)

    class Meta:
        db_table = "presence"

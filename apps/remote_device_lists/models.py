"""This server's copy of other servers' users' device lists (spec: server-server API, "Device
Management": a server "should populate a local cache from the result of a `/user/keys/query`" and keep
it up to date from `m.device_list_update` EDUs).

One row per remote user this server has looked up. `keys_json` is what their server answered to
`/user/keys/query` for all their devices (`{"device_keys": {device_id: keys}, "master_key"?,
"self_signing_key"?}`), NULL when nothing usable is held. `generation` moves on every invalidation (an
EDU about the user, a membership change of theirs): a lookup that started before an invalidation may
not store what it fetched (`stores.save_if_unchanged`), so an answer racing an update never outlives it.
The rules (which users are cached, for how long) are in apps.e2ee.remote_devices.
"""
from __future__ import annotations

from django.db import models


class RemoteDeviceList(models.Model):
    user_id = models.CharField(max_length=255, primary_key=True)
    generation = models.BigIntegerField(default=0)
    keys_json = models.TextField(null=True, blank=True)
    fetched_ms = models.BigIntegerField(null=True, blank=True)

    class Meta:
        db_table = "e2e_remote_device_lists"

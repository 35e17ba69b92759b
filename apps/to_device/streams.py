"""The `to_device` stream: rows `{user_id, device_id}`, one per recipient device, so the default
notify keys (the device) wake exactly the recipient device's `/sync`; catch-up reads the queued messages
back (`stores.fetch_rows`)."""
from __future__ import annotations

from apps.streams import registry

from . import stores

registry.attach("to_device", fetch_rows=stores.fetch_rows)

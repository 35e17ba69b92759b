"""A deleted device's queued messages go with it: a device ID that is used again later (a login naming
it) must not receive what was meant for the session that ended."""
from __future__ import annotations

from django.db.models.signals import post_delete
from django.dispatch import receiver

from apps.accounts.models import Device, User

from .models import DeviceInboxMessage


@receiver(post_delete, sender=Device, dispatch_uid="to_device.device_deleted")
def device_deleted(sender, instance: Device, **kwargs) -> None:
    localpart = User.objects.filter(pk=instance.user_id).values_list("localpart", flat=True).first()
    if localpart is None:
        return
    from django.conf import settings

    DeviceInboxMessage.objects.filter(user_id=f"@{localpart}:{settings.HS.server_name}",
                                      device_id=instance.device_id).delete()

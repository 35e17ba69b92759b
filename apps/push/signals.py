"""Pushers go with the device that set them: when a device is deleted (logout, device deletion, the
user's deactivation) its pushers are removed, so a logged-out phone stops receiving pushes (as clients
expect; a pusher is tied to the access token that created it)."""
from __future__ import annotations

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from apps.accounts.models import Device

from . import stores


@receiver(pre_delete, sender=Device, dispatch_uid="push.delete_device_pushers")
def _delete_device_pushers(sender, instance: Device, **kwargs) -> None:
    stores.delete_device_pushers(instance.user.user_id, instance.device_id)

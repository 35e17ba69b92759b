"""Tables of end-to-end encryption: device keys, one-time and fallback keys, cross-signing keys and the
signatures uploaded for them, the `device_lists` stream, and server-side key backups.

JSON objects are stored as canonical JSON text (they are signed: their bytes matter to clients).
"""
from django.db import models


class DeviceKeys(models.Model):
    """A device's identity keys as uploaded by `/keys/upload` (signatures of other keys live in KeySignature)."""

    user_id = models.CharField(max_length=255)
    device_id = models.CharField(max_length=255)
    key_json = models.TextField()
    ts = models.BigIntegerField()

    class Meta:
        db_table = "e2e_device_keys"
        constraints = [models.UniqueConstraint(fields=["user_id", "device_id"], name="e2e_device_keys_uniq")]


class OneTimeKey(models.Model):
    """An unclaimed one-time key; claiming deletes the row. `id` orders keys by upload (spec: claimKeys
    gives keys out in the order they were uploaded)."""

    id = models.BigAutoField(primary_key=True)
    user_id = models.CharField(max_length=255)
    device_id = models.CharField(max_length=255)
    algorithm = models.CharField(max_length=255)
    key_id = models.CharField(max_length=255)
    key_json = models.TextField()

    class Meta:
        db_table = "e2e_one_time_keys"
        constraints = [models.UniqueConstraint(fields=["user_id", "device_id", "algorithm", "key_id"],
                                               name="e2e_one_time_keys_uniq")]
        indexes = [models.Index(fields=["user_id", "device_id", "algorithm", "id"], name="e2e_otk_claim")]


class FallbackKey(models.Model):
    """At most one fallback key per device and algorithm; `used` once a claim has handed it out."""

    user_id = models.CharField(max_length=255)
    device_id = models.CharField(max_length=255)
    algorithm = models.CharField(max_length=255)
    key_id = models.CharField(max_length=255)
    key_json = models.TextField()
    used = models.BooleanField(default=False)

    class Meta:
        db_table = "e2e_fallback_keys"
        constraints = [models.UniqueConstraint(fields=["user_id", "device_id", "algorithm"],
                                               name="e2e_fallback_keys_uniq")]


class CrossSigningKey(models.Model):
    """A user's current master, self-signing or user-signing key (the latest upload replaces the last)."""

    user_id = models.CharField(max_length=255)
    key_type = models.CharField(max_length=32)  # master | self_signing | user_signing
    public_key = models.CharField(max_length=255)
    key_json = models.TextField()

    class Meta:
        db_table = "e2e_cross_signing_keys"
        constraints = [models.UniqueConstraint(fields=["user_id", "key_type"], name="e2e_cross_signing_uniq")]
        indexes = [models.Index(fields=["user_id", "public_key"], name="e2e_cross_signing_pub")]


class KeySignature(models.Model):
    """A signature uploaded through `/keys/signatures/upload`: `signer_user_id`'s key `signing_key_id` over
    `target_user_id`'s device (`target_key_id` = device ID) or master key (`target_key_id` = public key)."""

    signer_user_id = models.CharField(max_length=255)
    signing_key_id = models.CharField(max_length=255)
    target_user_id = models.CharField(max_length=255)
    target_key_id = models.CharField(max_length=255)
    signature = models.TextField()

    class Meta:
        db_table = "e2e_key_signatures"
        constraints = [models.UniqueConstraint(fields=["signer_user_id", "signing_key_id", "target_user_id",
                                                       "target_key_id"], name="e2e_key_signatures_uniq")]
        indexes = [models.Index(fields=["target_user_id", "target_key_id"], name="e2e_key_signatures_target")]


class DeviceListChange(models.Model):
    """The `device_lists` stream: `user_id`'s devices or cross-signing keys changed at `stream_id`.

    `visible_to` set: the change only concerns that user (their own signature of `user_id`'s master key
    made with their user-signing key, which nobody else sees)."""

    id = models.BigAutoField(primary_key=True)
    stream_id = models.BigIntegerField()
    user_id = models.CharField(max_length=255)
    device_id = models.CharField(max_length=255, null=True, blank=True)
    visible_to = models.CharField(max_length=255, null=True, blank=True)

    class Meta:
        db_table = "e2e_device_list_changes"
        indexes = [models.Index(fields=["stream_id"], name="e2e_dl_changes_stream"),
                   models.Index(fields=["user_id", "stream_id"], name="e2e_dl_changes_user")]


class RoomKeysVersion(models.Model):
    """A server-side key backup version; deleted versions are kept (flagged) so numbers are never reused
    and deleting one twice still succeeds (spec: deleteRoomKeysVersion)."""

    user_id = models.CharField(max_length=255)
    version = models.BigIntegerField()
    algorithm = models.CharField(max_length=255)
    auth_data = models.TextField()
    etag = models.BigIntegerField(default=0)
    deleted = models.BooleanField(default=False)

    class Meta:
        db_table = "e2e_room_keys_versions"
        constraints = [models.UniqueConstraint(fields=["user_id", "version"], name="e2e_room_keys_versions_uniq")]


class RoomKey(models.Model):
    """One backed-up megolm session key of a backup version."""

    user_id = models.CharField(max_length=255)
    version = models.BigIntegerField()
    room_id = models.CharField(max_length=255)
    session_id = models.CharField(max_length=255)
    first_message_index = models.BigIntegerField()
    forwarded_count = models.BigIntegerField()
    is_verified = models.BooleanField()
    session_data = models.TextField()

    class Meta:
        db_table = "e2e_room_keys"
        constraints = [models.UniqueConstraint(fields=["user_id", "version", "room_id", "session_id"],
                                               name="e2e_room_keys_uniq")]

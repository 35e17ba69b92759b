"""Remote server keys, as fetched and verified by the keyring (apps.federation.keyring).

`RemoteServerKey` is one verify key of one server: what signature checks read. `valid_until_ts` is
already capped (spec: the lesser of the response's `valid_until_ts` and 7 days after we fetched it);
for a key listed in `old_verify_keys` it is the key's `expired_ts`.

`RemoteKeyResponse` is the latest verified key response of a server, kept as the canonical JSON
the server signed, so that our notary endpoint (`/_matrix/key/v2/query`) can serve it again with
our signature added, also when the server is offline.
"""
from __future__ import annotations

from django.db import models


class RemoteServerKey(models.Model):
    server_name = models.CharField(max_length=255)
    key_id = models.CharField(max_length=255)
    verify_key = models.CharField(max_length=255, help_text="Unpadded base64 of the ed25519 public key.")
    valid_until_ts = models.BigIntegerField(help_text="Capped validity (ms); the expiry of an old key.")
    is_old = models.BooleanField(default=False, help_text="Listed in old_verify_keys: events only, never requests.")
    fetched_ts = models.BigIntegerField()
    from_server = models.CharField(max_length=255, help_text="The server itself, or the notary that served it.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["server_name", "key_id"], name="remote_server_key_uniq")]

    def __str__(self) -> str:
        return f"{self.server_name} {self.key_id}"


class RemoteKeyResponse(models.Model):
    server_name = models.CharField(max_length=255, unique=True)
    response_json = models.TextField(help_text="Canonical JSON of the server's self-signed response.")
    valid_until_ts = models.BigIntegerField(help_text="valid_until_ts of the response, uncapped.")
    fetched_ts = models.BigIntegerField()
    from_server = models.CharField(max_length=255)

    def __str__(self) -> str:
        return self.server_name


class ReceivedTransaction(models.Model):
    """A transaction another server sent us (`PUT /_matrix/federation/v1/send/{txnId}`) and the response
    we gave: a retried transaction gets the same response without being processed again (spec:
    server-server API, "Transactions"; the transaction ID is only meaningful per origin)."""

    origin = models.CharField(max_length=255)
    txn_id = models.CharField(max_length=255)
    response_json = models.TextField()
    received_ts = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["origin", "txn_id"], name="received_txn_uniq")]

    def __str__(self) -> str:
        return f"{self.origin} {self.txn_id}"

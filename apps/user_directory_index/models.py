"""Tables of the user directory (apps.user_directory searches them; apps.user_directory_index.index keeps
them), as Synapse's `user_directory` and its public-room list:

- `DirectoryEntry` (`user_directory`): the profile the directory shows of each REMOTE user we have seen
  join a room: display name and avatar of their latest join event. Local users are not copied here: their
  directory entry is their account (`users`: profile, deactivation), read as it is.
- `DirectoryPublicRoom` (`user_directory_public_rooms`): the rooms whose current join rule is `public` or
  whose history is `world_readable`, whose members anyone may find (spec: searchUserDirectory).

Who shares a room with whom is not copied either: `room_memberships` (apps.rooms) answers it, current.
"""
from __future__ import annotations

from django.db import models


class DirectoryEntry(models.Model):
    user_id = models.CharField(max_length=255, primary_key=True)
    display_name = models.TextField(null=True, blank=True)
    avatar_url = models.TextField(null=True, blank=True)

    class Meta:
        db_table = "user_directory"
        verbose_name_plural = "directory entries"

    def __str__(self) -> str:
        return self.user_id


class DirectoryPublicRoom(models.Model):
    room = models.OneToOneField("rooms.Room", on_delete=models.CASCADE, primary_key=True, db_column="room_id",
                                related_name="+")

    class Meta:
        db_table = "user_directory_public_rooms"

    def __str__(self) -> str:
        return self.room_id

"""Tables of the sync app: the filters users upload (`POST /user/{userId}/filter`).

A filter id is a small integer per user (as Synapse's), returned as a string; uploading the same filter
again returns its existing id instead of a new row (clients upload their filter on every start).
"""
from django.db import models


class UserFilter(models.Model):
    user_id = models.CharField(max_length=255)
    filter_id = models.BigIntegerField()
    # The filter as the client sent it (a JSON object), canonical JSON: equal filters are equal strings.
    filter_json = models.TextField()

    class Meta:
        db_table = "user_filters"
        constraints = [models.UniqueConstraint(fields=["user_id", "filter_id"], name="user_filters_uniq")]

    def __str__(self) -> str:
        return f"{self.user_id}/{self.filter_id}"

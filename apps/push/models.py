"""Tables of the push area.

- `PushRule`: a user's own rules (kinds override, content, room, sender, underride), ordered within
  their kind by `priority` (higher is more important).
- `PushRuleDefaultSetting`: a user's changes to a server-default rule (enabled, actions); the rules
  themselves live in code (`default_rules.py`).
- `PushRulesVersion`: one row per user who ever changed their rules, stamped with the `push_rules`
  stream position of the last change: the stream's rows, the `/sync` trigger and the key of the
  evaluation cache.
- `EventPushAction`: what an event did for a user (a notifying rule matched): the source of the unread
  counts and of `/notifications`.
- `OwnEventPosition`: the user's last sent event per room and thread (sending an event marks what came
  before it read, spec "Marking notifications as read").
- `Pusher`: where to push a user's notifications; `last_stream_ordering` is the durable position of the
  pusher queue (DESIGN.md 6: a task resumes after it).
"""
from django.db import models


class PushRule(models.Model):
    user_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=16)
    rule_id = models.CharField(max_length=512)
    priority = models.IntegerField(default=0)
    enabled = models.BooleanField(default=True)
    conditions = models.JSONField(default=list)
    actions = models.JSONField(default=list)
    pattern = models.TextField(null=True, blank=True)

    class Meta:
        db_table = "push_rules"
        constraints = [models.UniqueConstraint(fields=["user_id", "kind", "rule_id"], name="push_rules_uniq")]


class PushRuleDefaultSetting(models.Model):
    user_id = models.CharField(max_length=255)
    rule_id = models.CharField(max_length=255)
    enabled = models.BooleanField(null=True)
    actions = models.JSONField(null=True)

    class Meta:
        db_table = "push_rules_default_settings"
        constraints = [models.UniqueConstraint(fields=["user_id", "rule_id"], name="push_rules_default_uniq")]


class PushRulesVersion(models.Model):
    user_id = models.CharField(max_length=255, unique=True)
    stream_id = models.BigIntegerField(db_index=True)

    class Meta:
        db_table = "push_rules_versions"


class EventPushAction(models.Model):
    user_id = models.CharField(max_length=255)
    room_id = models.CharField(max_length=255)
    event_id = models.CharField(max_length=255)
    stream_ordering = models.BigIntegerField()
    # "main" for the main timeline, else the thread root's event ID.
    thread_id = models.CharField(max_length=255, default="main")
    notify = models.BooleanField(default=True)
    highlight = models.BooleanField(default=False)
    actions = models.JSONField(default=list)
    ts = models.BigIntegerField()

    class Meta:
        db_table = "event_push_actions"
        constraints = [models.UniqueConstraint(fields=["user_id", "event_id"], name="event_push_actions_uniq")]
        indexes = [
            models.Index(fields=["user_id", "room_id", "stream_ordering"], name="epa_user_room"),
            models.Index(fields=["user_id", "stream_ordering"], name="epa_user_stream"),
        ]


class OwnEventPosition(models.Model):
    user_id = models.CharField(max_length=255)
    room_id = models.CharField(max_length=255)
    thread_id = models.CharField(max_length=255, default="main")
    stream_ordering = models.BigIntegerField()

    class Meta:
        db_table = "push_own_event_positions"
        constraints = [models.UniqueConstraint(fields=["user_id", "room_id", "thread_id"], name="own_event_pos_uniq")]


class Pusher(models.Model):
    user_id = models.CharField(max_length=255, db_index=True)
    # The device whose access token set the pusher (logging the device out removes its pushers).
    device_id = models.CharField(max_length=255, null=True, blank=True)
    app_id = models.CharField(max_length=64)
    pushkey = models.CharField(max_length=512)
    kind = models.CharField(max_length=16)
    data = models.JSONField(default=dict)
    lang = models.CharField(max_length=64)
    device_display_name = models.CharField(max_length=255)
    app_display_name = models.CharField(max_length=255)
    profile_tag = models.CharField(max_length=255, blank=True, default="")
    # Events stream position up to which this pusher has handled the user's push actions.
    last_stream_ordering = models.BigIntegerField(default=0)
    last_success_ts = models.BigIntegerField(null=True, blank=True)
    failing_since_ts = models.BigIntegerField(null=True, blank=True)
    created_ts = models.BigIntegerField()

    class Meta:
        db_table = "pushers"
        constraints = [models.UniqueConstraint(fields=["user_id", "app_id", "pushkey"], name="pushers_uniq")]
        indexes = [models.Index(fields=["app_id", "pushkey"], name="pushers_app_key")]

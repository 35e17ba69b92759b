"""Retention events stored before the retention app existed get their rules from its migration, as the
persister hook would have written them; invalid ones stay ignored."""
from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps

from apps.retention.models import RetentionRule
from tests.api.retention.helpers import DAY, set_policy
from tests.api.rooms.helpers import create_room

pytestmark = pytest.mark.django_db(transaction=True)


def test_existing_retention_events_are_recorded(alice):
    room_id = create_room(alice)
    valid = set_policy(alice, room_id, {"min_lifetime": 5, "max_lifetime": DAY})
    other = create_room(alice)
    set_policy(alice, other, {"max_lifetime": "soon"})
    RetentionRule.objects.all().delete()  # as on a database from before the app

    migration = importlib.import_module("apps.retention.migrations.0001_initial")
    migration.record_existing(django_apps, None)
    migration.record_existing(django_apps, None)  # idempotent

    assert list(RetentionRule.objects.values_list("event_id", "room_id", "min_lifetime", "max_lifetime")) \
        == [(valid, room_id, 5, DAY)]

"""The media console at /admin/media/media/: list, preview, quarantine, delete with files."""
from __future__ import annotations

import pytest
from django.test import Client

from apps.accounts.models import User
from apps.core.errors import Codes
from apps.media.models import Media
from tests.api.media.helpers import AUTHED, assert_fetch_error, fetch, image_bytes, upload

LIST = "/admin/media/media/"


@pytest.fixture
def console(db) -> Client:
    c = Client()
    c.force_login(User.objects.create_user("root", "pw", admin=True))
    return c


def test_list_and_change_page_with_preview(console, alice):
    media_id = upload(alice, image_bytes("PNG", 400, 300), filename="holiday.png")
    page = console.get(LIST)
    assert page.status_code == 200 and media_id.encode() in page.content and b"holiday.png" in page.content
    media = Media.objects.get(media_id=media_id)
    change = console.get(f"{LIST}{media.pk}/change/")
    assert change.status_code == 200 and f"{LIST}{media.pk}/preview/".encode() in change.content
    preview = console.get(f"{LIST}{media.pk}/preview/")
    assert preview.status_code == 200 and preview["Content-Type"] == "image/png"
    assert preview["X-Content-Type-Options"] == "nosniff" and "sandbox" in preview["Content-Security-Policy"]


def test_no_preview_of_non_images(console, alice):
    media_id = upload(alice, b"<html>", "text/html")
    media = Media.objects.get(media_id=media_id)
    assert console.get(f"{LIST}{media.pk}/preview/").status_code == 404


def test_quarantine_action(console, alice, bob):
    media_id = upload(alice, b"bad", "text/plain")
    media = Media.objects.get(media_id=media_id)
    resp = console.post(LIST, {"action": "quarantine", "_selected_action": [media.pk]})
    assert resp.status_code == 302
    assert Media.objects.get(pk=media.pk).quarantined_by == "@root:test.local"
    assert_fetch_error(fetch(bob, f"{AUTHED}/download/test.local/{media_id}"), 404, Codes.NOT_FOUND)
    console.post(LIST, {"action": "unquarantine", "_selected_action": [media.pk]})
    assert fetch(bob, f"{AUTHED}/download/test.local/{media_id}").status_code == 200


def test_delete_removes_files(console, alice, settings):
    media_id = upload(alice, image_bytes("PNG", 100, 100))
    media = Media.objects.get(media_id=media_id)
    resp = console.post(LIST, {"action": "delete_with_files", "_selected_action": [media.pk]})
    assert resp.status_code == 302
    assert not Media.objects.exists()
    assert [p for p in settings.HS.media_store_path.rglob("*") if p.is_file()] == []
    # The single-object delete page goes through the same handler.
    other = Media.objects.get(media_id=upload(alice, b"x", "text/plain"))
    assert console.post(f"{LIST}{other.pk}/delete/", {"post": "yes"}).status_code == 302
    assert [p for p in settings.HS.media_store_path.rglob("*") if p.is_file()] == []


def test_no_add_and_no_bulk_delete_without_files(console):
    assert console.get(f"{LIST}add/").status_code == 403
    page = console.get(LIST)
    assert b"delete_selected" not in page.content

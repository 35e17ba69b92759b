"""Fixtures of the media API tests."""
from __future__ import annotations

import dataclasses

import pytest


@pytest.fixture
def media_config(settings):
    """Change media keys for one test: `media_config(dynamic_thumbnails=True)`."""
    def change(**changes):
        settings.HS = settings.HS.replace(media=dataclasses.replace(settings.HS.media, **changes))
    return change


@pytest.fixture
def hs_config(settings):
    """Change top-level homeserver keys for one test: `hs_config(max_upload_size=10)`."""
    def change(**changes):
        settings.HS = settings.HS.replace(**changes)
    return change


@pytest.fixture(autouse=True)
def _own_media_store(settings, tmp_path):
    # Each test starts with an empty store, so deduplication and deletion are observable.
    settings.HS = settings.HS.replace(media_store_path=tmp_path / "media_store")

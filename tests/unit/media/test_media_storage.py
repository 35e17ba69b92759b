"""apps.media.storage.LocalFileStorage: content addressing, deduplication, limits, no path tricks."""
from __future__ import annotations

import hashlib

import pytest

from apps.media.storage import LocalFileStorage, TooLarge


def test_save_open_delete(tmp_path):
    store = LocalFileStorage(tmp_path)
    blob = store.save([b"hello ", b"world"])
    assert blob.sha256 == hashlib.sha256(b"hello world").hexdigest() and blob.length == 11
    assert store.path(blob.sha256).relative_to(tmp_path).parts[:2] == (blob.sha256[:2], blob.sha256[2:4])
    with store.open(blob.sha256) as f:
        assert f.read() == b"hello world"
    assert store.save([b"hello world"]) == blob  # deduplicated
    store.delete(blob.sha256)
    assert not store.exists(blob.sha256)
    store.delete(blob.sha256)  # idempotent


def test_too_large_leaves_nothing(tmp_path):
    store = LocalFileStorage(tmp_path)
    with pytest.raises(TooLarge):
        store.save([b"x" * 10, b"x" * 10], max_length=15)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("bad", ["../../etc/passwd", "abc", "A" * 64, "0" * 63 + "/"])
def test_only_hashes_name_files(tmp_path, bad):
    with pytest.raises(ValueError):
        LocalFileStorage(tmp_path).path(bad)

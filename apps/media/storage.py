"""Where media bytes live: a content-addressed store behind a small interface.

Blobs are named by their SHA-256, so the same bytes uploaded twice (or a thumbnail identical to another)
are stored once; rows in `models.py` point at blobs by hash, and a blob is deleted only when no row
refers to it any more (`handlers.delete_blob_if_unused`). `LocalFileStorage` keeps them under
`media_store_path` (`ab/cd/<sha256>`); an object-store backend implements the same four methods.

Writes go to a temporary file in the store first and are renamed into place once complete and hashed,
so a reader never sees a partial blob, and a concurrent identical upload just finds the blob present.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable, Protocol

from django.conf import settings

SHA256_RE = re.compile(r"[0-9a-f]{64}")


class TooLarge(Exception):
    """The stream exceeded the byte limit given to `save`; nothing was stored."""


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    length: int


class MediaStorage(Protocol):
    def save(self, chunks: Iterable[bytes], *, max_length: int | None = None) -> StoredBlob: ...

    def open(self, sha256: str) -> BinaryIO: ...

    def exists(self, sha256: str) -> bool: ...

    def delete(self, sha256: str) -> None: ...


class LocalFileStorage:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if not SHA256_RE.fullmatch(sha256):
            raise ValueError("not a SHA-256 hex digest")  # never build a path from anything else
        return self.root / sha256[0:2] / sha256[2:4] / sha256

    def save(self, chunks: Iterable[bytes], *, max_length: int | None = None) -> StoredBlob:
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        length = 0
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
        try:
            with os.fdopen(fd, "wb") as f:
                for chunk in chunks:
                    length += len(chunk)
                    if max_length is not None and length > max_length:
                        raise TooLarge()
                    digest.update(chunk)
                    f.write(chunk)
            sha = digest.hexdigest()
            target = self.path(sha)
            if target.exists():
                os.unlink(tmp_name)  # already stored: deduplicated
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp_name, target)
            return StoredBlob(sha, length)
        except BaseException:
            try:
                os.unlink(tmp_name)
            except FileNotFoundError:
                pass
            raise

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path(sha256), "rb")

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def delete(self, sha256: str) -> None:
        try:
            self.path(sha256).unlink()
        except FileNotFoundError:
            pass


_storage: MediaStorage | None = None


def get_storage() -> MediaStorage:
    """The configured backend (the local filesystem under `media_store_path`; one per process)."""
    global _storage
    root = settings.HS.media_store_path
    if _storage is None or getattr(_storage, "root", None) != Path(root):
        _storage = LocalFileStorage(root)
    return _storage

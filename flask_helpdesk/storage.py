"""Attachment storage: the interface and the default local-directory store."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import typing as t

_KEY = re.compile(r"[0-9a-f]{2}/[0-9a-f]{32}")


class Storage(t.Protocol):
    """Where attachment bytes live. Keys are opaque strings chosen by the store."""

    def save(self, data: bytes, *, filename: str) -> str:
        """Store ``data`` and return its key."""

    def open(self, key: str) -> bytes:
        """Return the bytes stored under ``key``; raise ``FileNotFoundError``."""

    def delete(self, key: str) -> None:
        """Remove the bytes under ``key``; a missing key is not an error."""


class LocalStorage:
    """Files in a local directory, sharded by the first bytes of a random key.

    :param root: The directory; created when missing.
    """

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)

    def _path(self, key: str) -> str:
        if not _KEY.fullmatch(key):
            raise FileNotFoundError(key)
        return os.path.join(self.root, key)

    def save(self, data: bytes, *, filename: str) -> str:
        token = secrets.token_hex(16)
        key = f"{token[:2]}/{token}"
        path = self._path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        return key

    def open(self, key: str) -> bytes:
        with open(self._path(key), "rb") as fh:
            return fh.read()

    def delete(self, key: str) -> None:
        try:
            os.remove(self._path(key))
        except FileNotFoundError:
            pass


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

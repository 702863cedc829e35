"""The cache of OSS upload policies a client keeps (the upload flow itself is `_upload`).

Apart from `_upload` so that creating a client, which makes an empty cache, does not import the
upload flow and media planning: they load with the first call that sends a local file.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._upload import Policy


class PolicyCache:
    """Upload policies by (base URL, API key, workspace, model), dropped before they expire."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str, str | None, str], Policy] = {}

    def get(self, key: tuple[str, str, str | None, str]) -> Policy | None:
        with self._lock:
            policy = self._items.get(key)
            if policy is not None and time.monotonic() >= policy.expires_at:
                del self._items[key]
                return None
            return policy

    def put(self, key: tuple[str, str, str | None, str], policy: Policy) -> None:
        with self._lock:
            self._items[key] = policy

    def drop(self, key: tuple[str, str, str | None, str]) -> None:
        with self._lock:
            self._items.pop(key, None)

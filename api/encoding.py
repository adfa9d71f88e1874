"""JSON answers encoded straight to bytes by pydantic's compiled serializer, and kept while the
state they encode cannot change.

A route that declares `response_model` and returns models has FastAPI validate them again on a
worker thread before encoding; for reads answered hundreds of times a second that was a fifth
of the request (issue 23). Such a route keeps `response_model` for its documentation and returns
`json_response(body)`.

A project's state at a version, and its history up to that version, never change (the log is
append-only; corrections are new events). So their encoded answers are kept under
(kind, stream id, version) in `KeptAnswers`, within a byte budget, per application: a request
that finds its version already encoded costs the access check and the lookup only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping

from fastapi import Response

KEPT_BYTES = 32 * 2**20


def json_response(body: bytes, headers: Mapping[str, str] | None = None) -> Response:
    return Response(body, media_type="application/json", headers=headers)


class KeptAnswers:
    """Encoded answers by a key that names an immutable state, least recently used first out."""

    def __init__(self, budget: int = KEPT_BYTES) -> None:
        self.budget = budget
        self._kept: OrderedDict[Hashable, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, encode: Callable[[], bytes]) -> bytes:
        with self._lock:
            body = self._kept.get(key)
            if body is not None:
                self._kept.move_to_end(key)
                return body
        body = encode()  # outside the lock: two requests may encode the same state once each
        if len(body) > self.budget // 4:
            return body
        with self._lock:
            if key not in self._kept:
                self._kept[key] = body
                self._size += len(body)
                while self._size > self.budget:
                    _, dropped = self._kept.popitem(last=False)
                    self._size -= len(dropped)
        return body

    def __len__(self) -> int:
        return len(self._kept)

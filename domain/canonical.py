"""Canonical JSON: the one byte form that hashes and signatures are computed over."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(content: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text kept as is (values JSON cannot hold become text)."""
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def content_hash(content: Any) -> str:
    """The SHA-256 of the canonical JSON, in hex."""
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()

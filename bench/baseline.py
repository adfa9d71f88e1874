"""Raw database baselines measured in the same run: plain SQL, no library.

They make the application's figures comparable across noisy machines: what binds is the ratio.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

from sqlalchemy import Engine, text

PAYLOAD = json.dumps(
    {
        "timestamp": "2024-01-01T02:00:00+00:00",
        "occurred_on": "2023-12-31",
        "actor": {"id": "officer-1", "role": "officer"},
        "source": "api",
        "evidence": [],
        "arrival_id": str(uuid.uuid4()),
        "amount": "12345678.90",
        "currency": "CNY",
        "rate_to_cny": "1",
        "funds_source": "other_province",
        "prev_hash": "0" * 64,
    }
).encode()


def raw_insert_rate(engine: Engine, rows: int = 100_000, per_transaction: int = 50) -> float:
    """Rows/s inserting ≈250-byte rows into a plain table, one transaction per 50 rows."""
    table = f"bench_raw_{os.getpid()}"
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        blob = "BYTEA" if engine.dialect.name == "postgresql" else "BLOB"
        conn.execute(
            text(
                f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, originator_id VARCHAR(36) NOT NULL,"
                f" originator_version INTEGER NOT NULL, topic TEXT NOT NULL, state {blob} NOT NULL)"
            )
        )
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        marker = "%s" if engine.dialect.name == "postgresql" else "?"
        sql = f"INSERT INTO {table} VALUES ({', '.join([marker] * 5)})"
        stream = str(uuid.uuid4())
        started = time.perf_counter()
        for start in range(0, rows, per_transaction):
            batch = [
                (i + 1, stream, i + 1, "domain.project:Project.FundsArrived", PAYLOAD)
                for i in range(start, min(rows, start + per_transaction))
            ]
            cursor.executemany(sql, batch)
            raw.commit()
        elapsed = time.perf_counter() - started
    finally:
        raw.close()
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {table}"))
    return rows / elapsed


def raw_read_decode_rate(engine: Engine, table: str = "zhaoshang_events") -> tuple[float, int]:
    """Events/s reading every stored event with plain SQL and decoding its JSON state."""
    raw = engine.raw_connection()
    count = 0
    try:
        if engine.dialect.name == "postgresql":
            # A server-side cursor, so the rows stream as they do from SQLite.
            cursor = raw.driver_connection.cursor(name="bench_read")  # type: ignore[union-attr]
        else:
            cursor = raw.cursor()
        started = time.perf_counter()
        cursor.execute(
            f"SELECT id, originator_id, originator_version, topic, state FROM {table} ORDER BY id"
        )
        while True:
            rows: list[Any] = cursor.fetchmany(5000)
            if not rows:
                break
            for row in rows:
                json.loads(bytes(row[4]))
            count += len(rows)
        elapsed = time.perf_counter() - started
    finally:
        raw.close()
    return count / elapsed if elapsed else 0.0, count

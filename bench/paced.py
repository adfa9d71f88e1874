"""A paced load generator: requests sent at a fixed rate whatever the answers' speed (an open
loop), for latency at a given throughput rather than at saturation
(`python -m bench.paced BASE_URL TOKEN SCENARIO SECONDS RATE IDS_FILE`).

wrk and `bench.load` keep a fixed number of requests in flight: each connection sends its next
request when the last is answered. That measures the latency of a saturated server, which
grows with the connections however fast it is, and a stalled server is sent less while it
stalls. Here the i-th request is due at `i / RATE` seconds; it goes out on one of a pool of
keep-alive connections, and its latency counts from when it was due, so time queued behind a
stall is counted (no coordinated omission). Plain HTTP/1.1 on asyncio streams keeps the
client's own CPU small beside the server on the same cores. Stopped early by SIGINT; prints
the same JSON figures as `bench.load`, plus the rate asked for.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sys
import time
from typing import Any
from urllib.parse import urlsplit

from bench.load import _request, ids_in, summary

CONNECTIONS = 64


def _encoded(host: str, token: str, method: str, path: str, body: Any) -> bytes:
    payload = json.dumps(body).encode() if body is not None else b""
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host}",
        f"Authorization: Bearer {token}",
        f"Content-Length: {len(payload)}",
    ]
    if body is not None:
        lines.append("Content-Type: application/json")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    """Send one request; answer its status once the whole answer is read."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(
        (
            int(line.split(":", 1)[1])
            for line in lines
            if line.lower().startswith("content-length:")
        ),
        0,
    )
    await reader.readexactly(length)
    return status


async def run(
    base: str, token: str, scenario: str, seconds: float, rate: float, ids: list[str]
) -> dict[str, Any]:
    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    rng = random.Random(7)
    due: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
    latencies: list[float] = []
    errors: dict[int, int] = {}
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stopping.set)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while (item := await due.get()) is not None:
                when, request = item
                status = await _exchange(reader, writer, request)
                if status >= 400:
                    errors[status] = errors.get(status, 0) + 1
                else:
                    latencies.append((time.perf_counter() - when) * 1000)
        finally:
            writer.close()

    connections = [asyncio.create_task(connection()) for _ in range(CONNECTIONS)]
    started = time.perf_counter()
    sent = 0
    while not stopping.is_set():
        when = started + sent / rate
        if when > started + seconds:
            break
        delay = when - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
            continue
        method, path, body = _request(scenario, ids, rng)
        due.put_nowait((when, _encoded(f"{host}:{port}", token, method, path, body)))
        sent += 1
    for _ in connections:
        due.put_nowait(None)
    await asyncio.gather(*connections)
    wall = time.perf_counter() - started
    return summary(scenario, latencies, errors, wall, rate_asked=rate)


if __name__ == "__main__":
    base, token, scenario, seconds, rate, ids_file = sys.argv[1:7]
    result = asyncio.run(run(base, token, scenario, float(seconds), float(rate), ids_in(ids_file)))
    print(json.dumps(result))

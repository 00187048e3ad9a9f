"""Reading a worker's Prometheus endpoint over HTTP, as Prometheus would."""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request
from collections.abc import Callable

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def scrape(listen: str) -> str:
    with urllib.request.urlopen(f"http://{listen}/metrics", timeout=10) as response:
        text: str = response.read().decode()
        return text


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample of the metric `name` in a Prometheus text exposition: (labels, value)."""
    found = []
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and match["name"] == name:
            found.append((dict(_LABEL.findall(match["labels"] or "")), float(match["value"])))
    return found


async def scrape_until(listen: str, holds: Callable[[str], bool], *, within: float = 60) -> str:
    """Scrape until `holds(text)`; AssertionError with the last scrape when it never does."""
    deadline = time.monotonic() + within
    while True:
        text = await asyncio.to_thread(scrape, listen)
        if holds(text):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"never seen at http://{listen}/metrics:\n{text}")
        await asyncio.sleep(0.2)

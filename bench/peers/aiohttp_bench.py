"""Python aiohttp's side of the http_fanout bench (Debian python3-aiohttp):
N GETs of HTTP_FANOUT_URL by 100 asyncio workers sharing one ClientSession
(keep-alive pool of 100 connections)."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import QUICK, emit, now  # noqa: E402

try:
    import aiohttp
except ImportError:
    sys.exit(0)

SYS = "aiohttp"


def status_kb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line[len(key):].split()[0])
    return 0


async def fanout(url):
    conc, total = 100, 1000 if QUICK else 10000
    async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=conc)) as session:
        async def get():
            async with session.get(url) as r:
                body = await r.read()
                return r.status == 200 and len(body) == 1024

        await get()
        lat = [0] * total
        state = {"next": 0, "failures": 0}
        rss0 = status_kb("VmRSS:")
        t0 = now()

        async def worker():
            while state["next"] < total:
                i = state["next"]
                state["next"] += 1
                s = now()
                try:
                    if not await get():
                        state["failures"] += 1
                except aiohttp.ClientError:
                    state["failures"] += 1
                lat[i] = now() - s

        await asyncio.gather(*(worker() for _ in range(conc)))
        secs = (now() - t0) / 1e9
        hwm = status_kb("VmHWM:")
    if state["failures"]:
        print(f"aiohttp http_fanout: {state['failures']} failed", file=sys.stderr)
        return
    lat.sort()
    emit("http_fanout", SYS, total / secs, "req/s")
    emit("http_fanout_p50", SYS, lat[total // 2] / 1e3, "us")
    emit("http_fanout_p99", SYS, lat[total * 99 // 100] / 1e3, "us")
    emit("http_fanout_mem", SYS, (hwm - rss0) * 1024 / conc, "bytes")


if __name__ == "__main__":
    want = sys.argv[1:]
    url = os.environ.get("HTTP_FANOUT_URL")
    if url and (not want or "http_fanout" in want):
        asyncio.run(fanout(url))

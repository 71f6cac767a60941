"""CPython asyncio, written idiomatically: TaskGroup and gather."""
import asyncio
import sys

from common import emit, now, rss_bytes, scale

SYS = "asyncio"


async def switch():
    n = scale(10_000_000) // 10  # asyncio is ~100x slower: keep it bounded
    half = n // 2

    async def yielder():
        for _ in range(half):
            await asyncio.sleep(0)

    t0 = now()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(yielder())
        tg.create_task(yielder())
    emit("switch", SYS, (now() - t0) / (2 * half), "ns")


async def nop():
    return None


async def spawn_join():
    n = scale(1_000_000)
    t0 = now()
    async with asyncio.TaskGroup() as tg:
        for _ in range(n):
            tg.create_task(nop())
    emit("spawn_join", SYS, (now() - t0) / n, "ns")


async def gather():
    n = scale(1_000_000)
    t0 = now()
    await asyncio.gather(*[nop() for _ in range(n)])
    emit("gather", SYS, (now() - t0) / n, "ns")


async def timers():
    n = scale(100_000)
    t0 = now()
    async with asyncio.TaskGroup() as tg:
        for _ in range(n):
            tg.create_task(asyncio.sleep(0.010))
    emit("timers", SYS, (now() - t0) / 1e6 - 10, "ms")


class Boom(Exception):
    pass


async def fail_fast():
    n = scale(100_000)
    t_fail = 0

    async def failer():
        nonlocal t_fail
        await asyncio.sleep(0.001)
        t_fail = now()
        raise Boom()

    try:
        async with asyncio.TaskGroup() as tg:
            for _ in range(n):
                tg.create_task(asyncio.sleep(3600))
            tg.create_task(failer())
    except* Boom:
        pass
    emit("fail_fast", SYS, (now() - t_fail) / 1e6, "ms")


async def hold():
    n = scale(1_000_000)
    rss0 = rss_bytes()
    t0 = now()
    tasks = [asyncio.create_task(asyncio.sleep(3600)) for _ in range(n)]
    await asyncio.sleep(0)  # every task runs until it sleeps
    t1 = now()
    rss1 = rss_bytes()
    emit("hold", SYS, len(tasks), "tasks")
    emit("hold_rss", SYS, (rss1 - rss0) / n, "bytes")
    emit("hold_create", SYS, (t1 - t0) / n, "ns")
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def gather_limit():
    n = scale(100_000)
    sem = asyncio.Semaphore(100)

    async def short():
        async with sem:
            await asyncio.sleep(0)

    t0 = now()
    await asyncio.gather(*[short() for _ in range(n)])
    emit("gather_limit", SYS, (now() - t0) / 1e6, "ms")


async def echo():
    conns = 100 if scale(10) == 1 else 1000

    async def handler(reader, writer):
        try:
            while data := await reader.read(4096):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(handler, "127.0.0.1", 0, backlog=4096)
    port = server.sockets[0].getsockname()[1]

    async def client():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        msg = b"x" * 64
        for _ in range(100):
            writer.write(msg)
            await reader.readexactly(64)
        writer.close()
        await writer.wait_closed()

    t0 = now()
    async with asyncio.TaskGroup() as tg:
        for _ in range(conns):
            tg.create_task(client())
    emit("echo", SYS, (now() - t0) / 1e6, "ms")
    server.close()
    await server.wait_closed()


async def chan_pingpong():
    # asyncio.Queue has no rendezvous: maxsize=1 is the closest.
    n = scale(1_000_000) // 10 // 2
    a, b = asyncio.Queue(1), asyncio.Queue(1)
    dt = [0]

    async def relay(inq, outq, first):
        t0 = now()
        if first:
            await outq.put(0)
        for i in range(n):
            v = await inq.get()
            if i + 1 < n or not first:
                await outq.put(v + 1)
        if first:
            dt[0] = now() - t0

    await asyncio.gather(relay(b, a, False), relay(a, b, True))
    emit("chan_pingpong", SYS, dt[0] / (2 * n), "ns")


async def chan_fanin():
    per = scale(1_000_000) // 10 // 4
    q = asyncio.Queue(128)

    async def producer():
        for i in range(per):
            await q.put(i)

    t0 = now()
    tasks = [asyncio.create_task(producer()) for _ in range(4)]
    total = 0
    for _ in range(4 * per):
        total += await q.get()
    await asyncio.gather(*tasks)
    emit("chan_fanin", SYS, (now() - t0) / (4 * per), "ns")
    assert total == 4 * (per * (per - 1) // 2)


def _nop():
    return None


async def offload():
    n = scale(200_000) // 10  # to_thread costs tens of microseconds
    await asyncio.to_thread(_nop)  # the executor's thread exists
    t0 = now()
    for _ in range(n):
        await asyncio.to_thread(_nop)
    emit("offload", SYS, (now() - t0) / n / 1e3, "us")


async def _run_true():
    p = await asyncio.create_subprocess_exec(
        "true", stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    if await p.wait() != 0:
        raise RuntimeError("true failed")


async def _subprocess(conc, name):
    n = scale(1000)
    await _run_true()
    left = n

    async def worker():
        nonlocal left
        while left > 0:
            left -= 1
            await _run_true()

    t0 = now()
    async with asyncio.TaskGroup() as tg:
        for _ in range(conc):
            tg.create_task(worker())
    emit(name, SYS, (now() - t0) / n / 1e3, "us")


async def subprocess():
    await _subprocess(1, "subprocess")


async def subprocess_8():
    await _subprocess(8, "subprocess_8")


CASES = [switch, spawn_join, gather, timers, fail_fast, hold, gather_limit, echo,
         chan_pingpong, chan_fanin, offload, subprocess, subprocess_8]

if __name__ == "__main__":
    want = sys.argv[1:]
    for case in CASES:
        if not want or case.__name__ in want:
            asyncio.run(case())

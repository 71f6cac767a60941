"""Trio, written idiomatically: nurseries."""
import sys

import trio

from common import emit, now, rss_bytes, scale

SYS = "trio"


async def switch():
    n = scale(10_000_000) // 10
    half = n // 2

    async def yielder():
        for _ in range(half):
            await trio.lowlevel.checkpoint()

    t0 = now()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(yielder)
        nursery.start_soon(yielder)
    emit("switch", SYS, (now() - t0) / (2 * half), "ns")


async def nop():
    return None


async def spawn_join():
    n = scale(1_000_000)
    t0 = now()
    async with trio.open_nursery() as nursery:
        for _ in range(n):
            nursery.start_soon(nop)
    emit("spawn_join", SYS, (now() - t0) / n, "ns")


async def timers():
    n = scale(100_000)
    t0 = now()
    async with trio.open_nursery() as nursery:
        for _ in range(n):
            nursery.start_soon(trio.sleep, 0.010)
    emit("timers", SYS, (now() - t0) / 1e6 - 10, "ms")


class Boom(Exception):
    pass


async def fail_fast():
    n = scale(100_000)
    t_fail = 0

    async def failer():
        nonlocal t_fail
        await trio.sleep(0.001)
        t_fail = now()
        raise Boom()

    try:
        async with trio.open_nursery() as nursery:
            for _ in range(n):
                nursery.start_soon(trio.sleep, 3600)
            nursery.start_soon(failer)
    except BaseException:  # Boom, inside a MultiError / ExceptionGroup
        pass
    emit("fail_fast", SYS, (now() - t_fail) / 1e6, "ms")


async def hold():
    n = scale(1_000_000)
    rss0 = rss_bytes()
    async with trio.open_nursery() as nursery:
        t0 = now()
        for _ in range(n):
            nursery.start_soon(trio.sleep, 3600)
        await trio.sleep(0.0001)
        t1 = now()
        rss1 = rss_bytes()
        emit("hold", SYS, n, "tasks")
        emit("hold_rss", SYS, (rss1 - rss0) / n, "bytes")
        emit("hold_create", SYS, (t1 - t0) / n, "ns")
        nursery.cancel_scope.cancel()


async def gather_limit():
    n = scale(100_000)
    limiter = trio.CapacityLimiter(100)

    async def short():
        async with limiter:
            await trio.lowlevel.checkpoint()

    t0 = now()
    async with trio.open_nursery() as nursery:
        for _ in range(n):
            nursery.start_soon(short)
    emit("gather_limit", SYS, (now() - t0) / 1e6, "ms")


async def chan_pingpong():
    n = scale(1_000_000) // 10 // 2
    a_send, a_recv = trio.open_memory_channel(0)
    b_send, b_recv = trio.open_memory_channel(0)
    dt = [0]

    async def relay(recv, send, first):
        t0 = now()
        if first:
            await send.send(0)
        for i in range(n):
            v = await recv.receive()
            if i + 1 < n or not first:
                await send.send(v + 1)
        if first:
            dt[0] = now() - t0

    async with trio.open_nursery() as nursery:
        nursery.start_soon(relay, b_recv, a_send, False)
        nursery.start_soon(relay, a_recv, b_send, True)
    emit("chan_pingpong", SYS, dt[0] / (2 * n), "ns")


async def chan_fanin():
    per = scale(1_000_000) // 10 // 4
    send, recv = trio.open_memory_channel(128)

    async def producer():
        for i in range(per):
            await send.send(i)

    t0 = now()
    total = 0
    async with trio.open_nursery() as nursery:
        for _ in range(4):
            nursery.start_soon(producer)
        for _ in range(4 * per):
            total += await recv.receive()
    emit("chan_fanin", SYS, (now() - t0) / (4 * per), "ns")
    assert total == 4 * (per * (per - 1) // 2)


def _nop():
    return None


async def offload():
    n = scale(200_000) // 10
    await trio.to_thread.run_sync(_nop)  # a worker thread exists
    t0 = now()
    for _ in range(n):
        await trio.to_thread.run_sync(_nop)
    emit("offload", SYS, (now() - t0) / n / 1e3, "us")


CASES = [switch, spawn_join, timers, fail_fast, hold, gather_limit,
         chan_pingpong, chan_fanin, offload]

if __name__ == "__main__":
    want = sys.argv[1:]
    for case in CASES:
        if not want or case.__name__ in want:
            trio.run(case)

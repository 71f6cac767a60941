"""Shared by the Python peers: sizes, JSON lines, RSS."""
import json
import os
import time

QUICK = os.environ.get("BENCH_QUICK", "0") not in ("", "0")


def scale(n):
    return n // 10 if QUICK else n


def emit(bench, system, value, unit):
    print(json.dumps({"bench": bench, "system": system,
                      "value": round(value, 3), "unit": unit}), flush=True)


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


now = time.perf_counter_ns

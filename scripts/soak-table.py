#!/usr/bin/env python3
"""The soak's samples (build/soak.csv) as a table per minute, in the form
of docs/reliability.md "Soak": RSS and descriptors (min / median / max),
children (min / max), and what each load did in that minute.

    scripts/soak-table.py build/soak.csv"""
import csv
import statistics
import sys

rows = list(csv.DictReader(open(sys.argv[1])))
counters = ['connections', 'sleeps', 'items', 'gathers', 'offloads', 'spawns',
            'spawn_cancels', 'file_rounds']
print('| minute | RSS KiB (min / median / max) | descriptors (min / median / max) '
      '| children (min / max) | connections | timer rounds | channel items | gathers '
      '| offloaded | children spawned (cancelled) | file rounds |')
print('|---|---|---|---|---|---|---|---|---|---|---|')
prev = {c: 0 for c in counters}
for m in range(0, len(rows), 60):
    part = rows[m:m + 60]
    rss = [int(r['rss_kb']) for r in part]
    fds = [int(r['fds']) for r in part]
    kids = [int(r['children']) for r in part]
    last = part[-1]
    d = {c: int(last[c]) - prev[c] for c in counters}
    prev = {c: int(last[c]) for c in counters}
    print('| %d | %d / %d / %d | %d / %d / %d | %d / %d | %d | %d | %d | %d | %d | %d (%d) | %d |' % (
        m // 60 + 1, min(rss), statistics.median_low(rss), max(rss), min(fds),
        statistics.median_low(fds), max(fds), min(kids), max(kids), d['connections'],
        d['sleeps'], d['items'], d['gathers'], d['offloads'], d['spawns'],
        d['spawn_cancels'], d['file_rounds']))

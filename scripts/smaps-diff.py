#!/usr/bin/env python3
"""Rss per mapping between two /proc/PID/smaps snapshots.

    scripts/smaps-diff.py before.smaps after.smaps [min_kib]

Mappings are matched by start address; each line shows the mapping's
range, size, name (heap, stack, [anon], a file) and its Rss before and
after, largest growth first. Used to find what grows in the soak
(docs/reliability.md, "Soak")."""
import re
import sys


def read(path):
    maps, cur = {}, None
    for line in open(path):
        m = re.match(r'^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$', line)
        if m:
            start, end = int(m.group(1), 16), int(m.group(2), 16)
            cur = {'start': start, 'end': end, 'perm': m.group(3),
                   'name': m.group(4) or '[anon]', 'Rss': 0, 'Anonymous': 0}
            maps[start] = cur
            continue
        k = re.match(r'^(\w+):\s+(\d+) kB', line)
        if k and cur is not None and k.group(1) in ('Rss', 'Anonymous'):
            cur[k.group(1)] = int(k.group(2))
    return maps


def main():
    a, b = read(sys.argv[1]), read(sys.argv[2])
    floor = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    rows = []
    for s in set(a) | set(b):
        x, y = a.get(s), b.get(s)
        m = y or x
        ra, rb = (x or {}).get('Rss', 0), (y or {}).get('Rss', 0)
        size = (m['end'] - m['start']) // 1024
        tag = '' if x and y else ('new' if y else 'gone')
        if x and y and (x['end'] != y['end']):
            tag = 'resized %d->%d KiB' % ((x['end'] - x['start']) // 1024, size)
        rows.append((rb - ra, m['start'], size, m['perm'], m['name'], ra, rb, tag))
    rows.sort(key=lambda r: -abs(r[0]))
    ta = sum(v['Rss'] for v in a.values())
    tb = sum(v['Rss'] for v in b.values())
    print('total Rss %d -> %d KiB (%+d); mappings %d -> %d' % (ta, tb, tb - ta, len(a), len(b)))
    for d, s, size, perm, name, ra, rb, tag in rows:
        if abs(d) < floor:
            continue
        print('%+6d KiB  %012x %8d KiB %s %-28s %6d -> %6d %s' % (d, s, size, perm, name[-28:], ra, rb, tag))


main()

#!/usr/bin/env python3
"""Random templates, options and inputs through `corral --dry-run` and GNU
parallel's `--dry-run`: the commands must be the same.
    random_vs_parallel.py CORRAL SEED COUNT
-m / -X get one input source here and a {}: with several sources GNU
parallel's read-ahead packs records into jobs differently, and with only
positional strings it drops values (docs/cli.md). -N 0 is left out: GNU
parallel then gives every column an empty value; corral gives none."""
import random
import subprocess
import sys

corral, seed, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
reps = ['{}', '{.}', '{/}', '{//}', '{/.}', '{#}', '{1}', '{2}', '{-1}', '{1.}',
        '{2/}', '{0}']
vals = ['a', 'b.c', 'd/e.f', 'x y', '', "it's", '/p/q.tar.gz', '.h', 'a/', '$v',
        '1', '22']
option_sets = [[], [], ['-N2'], ['-N3'], ['-n', '2'], ['--link'], ['-X', '-j1'],
               ['-m', '-j2'], ['-X', '-j3'], ['--trim', 'lr']]
bad = 0
for _ in range(count):
    opts = rng.choice(option_sets)
    words = ['echo'] + [rng.choice(['w', rng.choice(reps), 'p' + rng.choice(reps) + 's'])
                        for _ in range(rng.randint(0, 3))]
    nsrc = 1 if ('-X' in opts or '-m' in opts) else rng.randint(1, 3)
    if nsrc == 1 and ('-X' in opts or '-m' in opts):
        words.append('p{}s')  # -X over positional strings alone: GNU parallel drops values
    srcs = []
    for k in range(nsrc):
        srcs += [rng.choice([':::', ':::', ':::+']) if k else ':::']
        srcs += rng.sample(vals, rng.randint(1, 4))
    args = opts + words + srcs

    def run(cmd):
        r = subprocess.run(cmd + ['--dry-run', '-k'] + args, capture_output=True,
                           text=True, stdin=subprocess.DEVNULL)
        return r.returncode, r.stdout

    want, got = run(['parallel', '--will-cite']), run([corral])
    if want != got:
        bad += 1
        print('differs:', args, '\n  GNU parallel:', repr(want), '\n  corral:      ', repr(got))
print(f'{count - bad} of {count} the same')
sys.exit(1 if bad else 0)

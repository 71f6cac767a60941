#!/usr/bin/env python3
"""Write the seed corpus of fuzz_runtime (fuzz/corpus/) from readable
programs. Operation numbers are those of run_ops() in fuzz_runtime.c."""
import os, sys

SLEEP, YIELD, FAIL, SPAWN, GROUP, SCOPE, END = 0, 2, 3, 4, 6, 7, 8
CANCEL_FRAME, CANCEL_TASK, JOIN, WAIT, GATHER = 10, 11, 12, 13, 14
EV_SET, EV_CLEAR, EV_WAIT, SEM_REL, SEM_ACQ = 15, 16, 17, 18, 19
CHECKPOINT, BODY_FAIL, MISUSE, STOP = 20, 21, 22, 23
SEND, RECV, CLOSE, SELECT, LOCK = 24, 25, 26, 27, 28
LOCAL, LOCAL_CHECK = 30, 31  # LOCAL k | 2*(0 new, 1 NULL, 2 get-and-set-again)
# operands: SEND/RECV c|2*try; CLOSE c|2*receive_side; SELECT bits;
# LOCK 0 acquire, 1 try, 2 release, 3 cond wait, 4 notify, 5 limiter
# acquire, 13 limiter try, 21 limiter release
LAZY, EAGER, COMPACT = 0, 1, 2
FAIL_FAST, COLLECT, FIRST, QUORUM = 0, 1, 2, 3

def spawn(mode, body, implicit=False):
    return [SPAWN, mode | (4 if implicit else 0), len(body)] + body

def group(policy, quorum=1, timeout_ms=None, eager=0, compact=0):
    a = policy | ((quorum - 1) << 2) | (eager << 4) | (compact << 5)
    b = 0 if timeout_ms is None else (timeout_ms << 1) | 1
    return [GROUP, a, b]

def scope(kind, ms):  # kind: 0 move_on, 1 fail_after, 2 shield, 6 shield+deadline
    return [SCOPE, kind, ms]

def gather(k, policy, body, timeout_ms=None, quorum=1, limit=False, eager=0):
    a = (k - 1) | (policy << 2) | ((quorum - 1) << 4)
    b = (0 if timeout_ms is None else (timeout_ms << 1) | 1) | (eager << 6) | (0x80 if limit else 0)
    return [GATHER, a, b, len(body)] + body

seeds = {
    "sleep_and_fail": [SLEEP, 5, YIELD] + spawn(LAZY, [SLEEP, 10, FAIL]) + [SLEEP, 20],
    "fail_fast_group": group(FAIL_FAST) + spawn(LAZY, [SLEEP, 30]) + spawn(EAGER, [SLEEP, 5, FAIL])
        + spawn(COMPACT, [SLEEP, 40]) + [END],
    "collect_group": group(COLLECT) + spawn(LAZY, [FAIL]) + spawn(LAZY, [SLEEP, 3, FAIL])
        + spawn(LAZY, [SLEEP, 9]) + [BODY_FAIL, END],
    "first_and_quorum": group(FIRST) + spawn(LAZY, [SLEEP, 7]) + spawn(LAZY, [SLEEP, 3]) + [END]
        + group(QUORUM, 2, timeout_ms=20) + spawn(LAZY, [SLEEP, 1]) + spawn(LAZY, [SLEEP, 30])
        + spawn(LAZY, [SLEEP, 10]) + [END],
    "nested_deadlines": scope(0, 30) + scope(1, 10) + [SLEEP, 50, END, SLEEP, 50, END],
    "shield": scope(0, 5) + scope(6, 20) + [SLEEP, 10, END, SLEEP, 1, END],
    "group_timeout": group(COLLECT, timeout_ms=15) + spawn(EAGER, [SLEEP, 60]) + [SLEEP, 40, END],
    "cancel_task_and_join": spawn(LAZY, [SLEEP, 50]) + spawn(LAZY, [FAIL]) + [CANCEL_TASK, 0, JOIN, 0, 0, JOIN, 1, 0, JOIN, 1, 0],
    "wait_for": spawn(LAZY, [SLEEP, 50]) + [JOIN, 0x80, 10] + spawn(LAZY, [SLEEP, 5]) + [JOIN, 0x81, 10],
    "wait_modes": spawn(LAZY, [SLEEP, 5]) + spawn(LAZY, [FAIL]) + spawn(LAZY, [SLEEP, 20])
        + [WAIT, 0x07, 0, WAIT, 0x07, 1, WAIT, 0x07, 2 | 0x80, WAIT, 0x87, 3],
    "as_completed_timeout": spawn(LAZY, [SLEEP, 5]) + spawn(LAZY, [SLEEP, 50]) + [WAIT, 0x83, 10],
    "gather_all": gather(4, 0, [SLEEP, 3, FAIL], timeout_ms=None),
    "gather_fail_fast_limit": gather(3, 1, [SLEEP, 5, FAIL], limit=True),
    "gather_first_timeout": gather(2, 2, [SLEEP, 40], timeout_ms=10),
    "gather_quorum": gather(4, 3, [SLEEP, 2], quorum=3, eager=1),
    "events": spawn(LAZY, [EV_WAIT, 0, SLEEP, 1]) + spawn(LAZY, [SLEEP, 4, EV_SET, 0]) + [EV_WAIT, 0, EV_CLEAR, 0],
    "semaphores": spawn(LAZY, [SEM_ACQ, 0, 1, SLEEP, 3, SEM_REL, 1]) + spawn(LAZY, [SEM_ACQ, 0, 1, SEM_REL, 1])
        + [SEM_ACQ, 1, 0, SEM_REL, 0],
    "deadlock": [EV_WAIT, 2],
    "cancel_frames": group(FAIL_FAST) + spawn(LAZY, [SLEEP, 30, CHECKPOINT]) + [CANCEL_FRAME, END]
        + scope(0, 50) + [CANCEL_FRAME, SLEEP, 5, YIELD, CHECKPOINT, END, CANCEL_FRAME, SLEEP, 1],
    "misuse": scope(0, 50) + scope(0, 60) + [MISUSE, 0, END, END] + group(COLLECT) + group(COLLECT)
        + [MISUSE, 1, MISUSE, 2, MISUSE, 3, END, END],
    "compact_misuse": spawn(COMPACT, [GROUP, 0, 0, SCOPE, 0, 5, EV_WAIT, 0, SEM_ACQ, 0, 0, SLEEP, 2] + spawn(LAZY, [SLEEP, 1])),
    "deep_tree": group(FAIL_FAST) + spawn(EAGER, group(COLLECT) + spawn(EAGER, group(FAIL_FAST, eager=1)
        + spawn(LAZY, [SLEEP, 3, FAIL]) + spawn(LAZY, [SLEEP, 9]) + [END]) + spawn(LAZY, [SLEEP, 2]) + [END]) + [END],
    "channel_rendezvous": spawn(LAZY, [SEND, 0, SEND, 0, CLOSE, 0]) + [RECV, 0, RECV, 0, RECV, 0],
    "channel_buffered_close_receive": spawn(LAZY, [SEND, 1, SEND, 1, SEND, 1, SEND, 3]) + [SLEEP, 2, RECV, 1, CLOSE, 3, RECV, 1],
    "channel_cancel": scope(0, 5) + [RECV, 0, END] + spawn(LAZY, [SEND, 0]) + [SLEEP, 1, CANCEL_TASK, 0, RECV, 2],
    "select": spawn(LAZY, [SELECT, 0b0101, SELECT, 0b1010]) + [SELECT, 0b0011, SELECT, 0b10000001, SLEEP, 1, CLOSE, 0, CLOSE, 1, SELECT, 1],
    "lock_condition": spawn(LAZY, [LOCK, 0, LOCK, 3, LOCK, 2]) + spawn(LAZY, [LOCK, 0, LOCK, 4, SLEEP, 2, LOCK, 2])
        + [LOCK, 0, LOCK, 0, LOCK, 1, LOCK, 2, LOCK, 2, LOCK, 3],
    "limiter": spawn(LAZY, [LOCK, 5, SLEEP, 3, LOCK, 21]) + spawn(LAZY, [LOCK, 5, LOCK, 5, LOCK, 21])
        + [LOCK, 13, LOCK, 5, LOCK, 21, LOCK, 21],
    "task_locals": [LOCAL, 0, LOCAL, 1] + spawn(LAZY, [LOCAL_CHECK, LOCAL, 0, SLEEP, 2, LOCAL_CHECK])
        + spawn(EAGER, [LOCAL, 4, LOCAL, 2, LOCAL_CHECK]) + [LOCAL, 0, SLEEP, 1, LOCAL, 2]
        + gather(2, 0, [LOCAL_CHECK, LOCAL, 0]) + [LOCAL_CHECK],
    "implicit_group": spawn(LAZY, [SLEEP, 5, FAIL], implicit=True) + spawn(LAZY, [SLEEP, 1], implicit=True) + [STOP, 1],
}

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
os.makedirs(out, exist_ok=True)
for name, prog in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes(b & 0xFF for b in prog))
print(f"{len(seeds)} seeds in {out}")

#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""6 (continued): the total bound on pending polkit checks, on a private dbus-daemon with python-dbusmock's polkitd.

daemon/polkit.c keeps at most 16 pending checks per caller (tested in test-bus.py) and at most QUERIES_MAX in
total. A caller is a bus connection (its unique name), so 17 connections of one unprivileged uid are 17 callers.
While polkit hangs, 17 callers fire 16 privileged calls each (272, more than the total):
 - exactly QUERIES_MAX reach polkit; every other call is refused at once with LimitsExceeded and the daemon's
   message, none with anything else (in particular not AccessDenied, which is what the bus's own limit on pending
   replies per connection turns into when the daemon's bound is above it);
 - a fresh caller with nothing pending is refused too (the total bound, not the per-caller one);
 - read-only calls still answer, from that caller and from others;
 - once polkit answers, every kept call completes (none lost), and the bound is free again: a second flood gets
   exactly as far, and a single call afterwards goes through;
 - VmHWM growth over both floods stays under MEMORY_BOUND_KIB.
On a bus configured tighter than the daemon's bound (max_replies_per_connection below it), the checks the bus
refuses to carry are answered LimitsExceeded too, not AccessDenied: busy, not denied."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from hostile import Env, MANAGER, PATH, eq, expect, run, GLib  # noqa: E402

PER_SENDER = 16
# daemon/polkit.c's POLKIT_QUERIES_MAX: below dbus-daemon's default max_replies_per_connection (128), which
# Debian's system bus and the test bus (tests/data/system-bus.conf.in) keep.
QUERIES_MAX = 112
LIMITS_EXCEEDED = 'org.freedesktop.DBus.Error.LimitsExceeded'
REFUSAL = (f'Too many authorization checks pending (at most {PER_SENDER} per caller, {QUERIES_MAX} in total)')
CALLERS = 17
NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']
MEMORY_BOUND_KIB = 32 * 1024
BUS_REPLIES_MAX = 32
BUS_REFUSAL = 'Too many authorization checks pending on the bus, retry later'
GROUP_NUMBER = 5
figures = []

# The unprivileged callers, all in one process: one connection per caller. Driven line by line on stdin; each
# command answers with one JSON line. A call the test expects to be refused at once is waited for a bounded time
# only, so that a daemon keeping it makes the test fail instead of hang.
CLIENT = r'''
import json, sys, time
from collections import Counter
import gi
gi.require_version('Gio', '2.0')
from gi.repository import Gio, GLib

address = sys.argv[1]
ctx = GLib.MainContext.default()
flood = []  # [answer or None] per call of the current flood
conns = []

def connect():
    return Gio.DBusConnection.new_for_address_sync(
        address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
        None, None)

def answer_of(conn, res):
    try:
        return {'ok': conn.call_finish(res).unpack()}
    except GLib.Error as e:
        return {'error': Gio.DBusError.get_remote_error(e), 'message': e.message}

def set_mode(conn, slot):
    def done(c, res, i):
        slot[i] = answer_of(c, res)
    slot.append(None)
    conn.call('org.dmaownerd1', '/org/dmaownerd1', 'org.dmaownerd1.Manager', 'SetMode',
              GLib.Variant('(s)', ('audit',)), None, 0, 120000, None, done, len(slot) - 1)

def iterate_until(cond, seconds):
    deadline = time.monotonic() + seconds
    while not cond() and time.monotonic() < deadline:
        ctx.iteration(False) or time.sleep(0.005)
    return cond()

def tally(answers):
    return dict(Counter('pending' if a is None else a.get('error', 'ok') for a in answers))

def messages(answers):
    return sorted({a['message'] for a in answers if a and 'message' in a})

for line in sys.stdin:
    cmd = line.split()
    if cmd[0] == 'flood':
        n_callers, per_caller, expect_at_once = map(int, cmd[1:])
        for c in conns:
            c.close_sync(None)
        conns = [connect() for _ in range(n_callers)]
        flood = []
        for c in conns:
            for _ in range(per_caller):
                set_mode(c, flood)
        iterate_until(lambda: sum(a is not None for a in flood) >= expect_at_once, 20)
        out = {'tally': tally(flood), 'messages': messages(flood), 'names': [c.get_unique_name() for c in conns]}
    elif cmd[0] == 'probe':
        fresh = connect()
        one = []
        set_mode(fresh, one)
        iterate_until(lambda: one[0] is not None, float(cmd[1]))
        reads = {}
        for method, args in (('GetGroup', GLib.Variant('(u)', (int(cmd[2]),))), ('ListGroups', None)):
            try:
                reads[method] = fresh.call_sync('org.dmaownerd1', '/org/dmaownerd1', 'org.dmaownerd1.Manager',
                                                method, args, None, 0, 10000, None).unpack()
            except GLib.Error as e:
                reads[method] = 'error: ' + e.message
        out = {'answer': one[0], 'reads': reads}
        if one[0] is None:
            fresh.close_sync(None)  # the daemon drops a query whose caller left
    elif cmd[0] == 'finish':
        iterate_until(lambda: all(a is not None for a in flood), 60)
        out = {'tally': tally(flood), 'messages': messages(flood)}
    else:
        break
    print(json.dumps(out), flush=True)
'''


class Callers:
    def __init__(self, e):
        self.proc = subprocess.Popen(NOBODY + ['/usr/bin/python3', '-c', CLIENT, e.address], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=e.env)
        e.procs.append(self.proc)

    def __call__(self, *cmd):
        self.proc.stdin.write(' '.join(map(str, cmd)) + '\n')
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        expect(line, f'the callers answered {cmd[0]} (exit status {self.proc.poll()})')
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        eq(self.proc.wait(30), 0, 'callers exit')


def polkit_mock(e, method, sig=None, args=()):
    return e.conn.call_sync('org.freedesktop.PolicyKit1', '/org/freedesktop/PolicyKit1/Authority',
                            'org.freedesktop.DBus.Mock', method,
                            GLib.Variant(f'({sig})', tuple(args)) if sig else None, None, 0, -1, None).unpack()


def checks_reaching_polkit(e, expected):
    # polkit's mock reads its socket on its own: wait (bounded) for it to have seen what the daemon sent.
    deadline = time.monotonic() + 30
    while True:
        n = len(polkit_mock(e, 'GetMethodCalls', 's', ('CheckAuthorization',))[0])
        if n >= expected or time.monotonic() > deadline:
            return n
        time.sleep(0.05)


def flood_round(e, callers, round_no):
    polkit_mock(e, 'ClearCalls')
    polkit_mock(e, 'SimulateHang', 'b', (True,))
    total = CALLERS * PER_SENDER
    got = callers('flood', CALLERS, PER_SENDER, total - QUERIES_MAX)
    eq(len(set(got['names'])), CALLERS, 'distinct unique names, so distinct callers')
    eq(got['tally'], {'pending': QUERIES_MAX, LIMITS_EXCEEDED: total - QUERIES_MAX},
       f'round {round_no}: {QUERIES_MAX} of {total} calls kept, every other one refused at once')
    eq(got['messages'], [f'GDBus.Error:{LIMITS_EXCEEDED}: {REFUSAL}'], 'the refusal says why')
    eq(checks_reaching_polkit(e, QUERIES_MAX), QUERIES_MAX, f'round {round_no}: checks that reached polkit')

    # A caller with nothing pending is refused: the total bound, not the per-caller one. Reads still answer.
    probe = callers('probe', 10, GROUP_NUMBER)
    eq(probe['answer'], {'error': LIMITS_EXCEEDED, 'message': f'GDBus.Error:{LIMITS_EXCEEDED}: {REFUSAL}'},
       f'round {round_no}: a fresh caller while {QUERIES_MAX} checks are pending')
    eq(probe['reads'], {'GetGroup': [PATH + f'/group/{GROUP_NUMBER}'],
                        'ListGroups': [[[GROUP_NUMBER, PATH + f'/group/{GROUP_NUMBER}']]]},
       'read-only calls of that caller')
    eq(e.prop(PATH, MANAGER, 'Mode'), 'enforce', 'the loop is not blocked, nothing was done yet')
    eq(checks_reaching_polkit(e, QUERIES_MAX), QUERIES_MAX, 'the refused caller reached no polkit')

    polkit_mock(e, 'SimulateHang', 'b', (False,))
    polkit_mock(e, 'ReleaseHangingCalls')
    done = callers('finish')
    eq(done['tally'], {'ok': QUERIES_MAX, LIMITS_EXCEEDED: total - QUERIES_MAX},
       f'round {round_no}: every kept call completed once polkit answered')
    eq(e.prop(PATH, MANAGER, 'Mode'), 'audit', 'what the kept calls asked for was done')
    e.ok('SetMode', 's', ('enforce',))  # as root: no polkit, nothing queued
    figures.append(f'round {round_no}: {CALLERS} callers x {PER_SENDER} calls while polkit hung: {QUERIES_MAX} '
                   f'kept, {total - QUERIES_MAX} and a fresh caller refused with LimitsExceeded; all kept ones '
                   f'completed')


def test_total_bound(e):
    e.tree.add('0000:00:05.0', vendor=0x10de, device=0x1db6, cls=0x030200, group=GROUP_NUMBER)
    e.start()
    polkit_mock(e, 'SetAllowed', 'as', (['org.dmaownerd1.manage'],))
    base_rss, base_hwm = e.vm('VmRSS'), e.vm('VmHWM')
    callers = Callers(e)

    for round_no in (1, 2):
        flood_round(e, callers, round_no)

    # Every query was freed: with polkit answering again, one more call goes all the way through.
    probe = callers('probe', 30, GROUP_NUMBER)
    eq(probe['answer'], {'ok': []}, 'a call after the floods is authorized and done')
    eq(e.prop(PATH, MANAGER, 'Mode'), 'audit', 'and took effect')
    callers.close()

    rss, hwm = e.vm('VmRSS'), e.vm('VmHWM')
    figures.append(f'memory: VmRSS {base_rss} -> {rss} KiB, VmHWM {base_hwm} -> {hwm} KiB '
                   f'(growth {hwm - base_hwm} KiB, bound {MEMORY_BOUND_KIB} KiB)')
    expect(hwm - base_hwm <= MEMORY_BOUND_KIB, figures[-1])


def tight_bus():
    return Env(polkit=True, bus_extra=f'<limit name="max_replies_per_connection">{BUS_REPLIES_MAX}</limit>\n')


def test_bus_bound_below_ours(e):
    e.tree.add('0000:00:05.0', vendor=0x10de, device=0x1db6, cls=0x030200, group=GROUP_NUMBER)
    e.start()
    polkit_mock(e, 'SetAllowed', 'as', (['org.dmaownerd1.manage'],))
    polkit_mock(e, 'SimulateHang', 'b', (True,))
    callers = Callers(e)
    n_callers = 3
    total = n_callers * PER_SENDER
    expect(BUS_REPLIES_MAX < total < QUERIES_MAX, 'the bus, not the daemon, is what refuses here')
    got = callers('flood', n_callers, PER_SENDER, total - BUS_REPLIES_MAX)
    eq(got['tally'], {'pending': BUS_REPLIES_MAX, LIMITS_EXCEEDED: total - BUS_REPLIES_MAX},
       f'{total} calls on a bus that holds {BUS_REPLIES_MAX} replies for the daemon')
    eq(got['messages'], [f'GDBus.Error:{LIMITS_EXCEEDED}: {BUS_REFUSAL}'], 'the refusal says the bus is busy')
    eq(checks_reaching_polkit(e, BUS_REPLIES_MAX), BUS_REPLIES_MAX, 'checks that reached polkit')
    polkit_mock(e, 'ReleaseHangingCalls')
    eq(callers('finish')['tally'], {'ok': BUS_REPLIES_MAX, LIMITS_EXCEEDED: total - BUS_REPLIES_MAX},
       'the checks the bus carried completed')
    callers.close()
    figures.append(f'bus holding {BUS_REPLIES_MAX} replies: {total} calls, {total - BUS_REPLIES_MAX} refused by '
                   f'the bus answered LimitsExceeded, {BUS_REPLIES_MAX} completed')


if __name__ == '__main__':
    rc = run([test_total_bound], lambda: Env(polkit=True)) | run([test_bus_bound_below_ours], tight_bus)
    for f in figures:
        print('figure: ' + f)
    sys.exit(rc)

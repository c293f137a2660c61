#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""8: policy abuse. Each hostile policy is checked with `dma-ownerd --check-policy` (bounded time: the subprocess
timeout; bounded memory: its peak RSS from wait4) and loaded by SIGHUP into a running daemon, which must reject it
with a clear error and keep enforcing the previous policy.

The cap of 4096 reservations (policy/policy-internal.h) is kept: 4096 rules load, 10 000 are refused with
"too many reservations". A reservation matches devices by glob, ids, class or group, so one rule covers many
devices; 4096 exceeds the devices of the largest hosts we know of. The figure printed shows what 4096 costs."""

import os
import resource
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from hostile import Env, DAEMON, GROUP, MANAGER, PATH, eq, expect, run, sanitizer_env  # noqa: E402

NIC = '0000:00:05.0'
GOOD = f'mode: enforce\nreservations:\n  - name: nic\n    match:\n      address: "{NIC}"\n'
RSS_BOUND_KIB = 256 * 1024
figures = []


def rules(n):
    return 'reservations:\n' + ''.join(f'  - name: r{i}\n    match:\n      iommu-group: {i + 100}\n' for i in range(n))


def check(e, path, what):
    start = time.monotonic()
    p = subprocess.Popen([DAEMON, '--check-policy', path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         env=sanitizer_env(e.env))
    try:
        _, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        raise AssertionError(f'{what}: --check-policy did not finish in 60 s')
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    secs = time.monotonic() - start
    figures.append(f'{what}: exit {p.returncode} in {secs:.2f} s, peak RSS of all checks so far {usage.ru_maxrss} KiB')
    expect(usage.ru_maxrss <= RSS_BOUND_KIB, figures[-1])
    return p.returncode, err.decode('utf-8', 'replace')


def hup_rejected(e, text=None, setup=None, expect_in=None):
    mark = len(e.log())
    if setup:
        setup()
    else:
        e.set_policy(text)
    e.daemon.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 60
    while 'KIND=policy-rejected' not in e.log()[mark:] and 'KIND=policy-loaded' not in e.log()[mark:]:
        expect(time.monotonic() < deadline, f'no verdict on the reload:\n{e.log()[mark:]}')
        expect(e.daemon.poll() is None, f'the daemon died on a hostile policy:\n{e.log()[mark:]}')
        time.sleep(0.05)
    new = e.log()[mark:]
    expect('KIND=policy-rejected' in new and 'KEPT_PREVIOUS=1' in new, f'rejected, previous kept:\n{new[-3000:]}')
    if expect_in:
        expect(expect_in in new, f'the error says {expect_in!r}:\n{new[-3000:]}')
    eq(e.prop(PATH + '/group/5', GROUP, 'Reserved'), True, 'the old policy still reserves the NIC')
    eq(e.prop(PATH, MANAGER, 'Mode'), 'enforce', 'still enforcing')


def test_policy_abuse(e):
    e.tree.add(NIC, group=5)
    e.set_policy(GOOD)
    e.start()
    eq(e.tree.override(NIC), 'vfio-pci', 'the good policy is enforced')
    d = e.tmp

    cases = {
        '4096 rules': ('mode: enforce\n' + rules(4096), 0, None),
        '10000 rules': ('mode: enforce\n' + rules(10000), 1, 'too many reservations'),
        'nesting 100000 deep': ('mode: ' + '[' * 100000 + ']' * 100000 + '\n', 1, None),
        'billion laughs': ('a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' +
                           ''.join(f'{chr(98 + i)}: &{chr(98 + i)} [' + ','.join([f'*{chr(97 + i)}'] * 9) + ']\n'
                                   for i in range(9)) + 'mode: enforce\n', 1, 'alias'),
        '10 MiB file': ('# ' + 'x' * (10 * 1024 * 1024) + '\nmode: enforce\n', 1, None),
        'long scalar': ('mode: ' + 'a' * (900 * 1024) + '\n', 1, None),
    }
    for what, (text, rc_want, msg) in cases.items():
        path = os.path.join(d, 'abuse.yaml')
        with open(path, 'w') as f:
            f.write(text)
        rc, err = check(e, path, what)
        eq(rc != 0, rc_want != 0, f'{what}: --check-policy exit {rc}: {err[-500:]}')
        if msg:
            expect(msg in err, f'{what}: the error says {msg!r}: {err[-1000:]}')
        if rc_want:
            hup_rejected(e, text, expect_in=msg)
        else:
            # 4096 rules load; time the reload (figure only) and go back to the good policy.
            e.set_policy(GOOD + rules(4095)[len('reservations:\n'):])
            start = time.monotonic()
            mark = len(e.log())
            e.daemon.send_signal(signal.SIGHUP)
            while 'KIND=policy-loaded' not in e.log()[mark:]:
                expect(time.monotonic() - start < 60, 'reload of 4096 rules')
                time.sleep(0.02)
            figures.append(f'4096-rule policy reloaded and reconciled in {time.monotonic() - start:.2f} s')
            eq(e.prop(PATH + '/group/5', GROUP, 'Reserved'), True, 'still reserved with 4096 rules')
            e.set_policy(GOOD)
            e.daemon.send_signal(signal.SIGHUP)

    # Non-regular files and links in policy.d: a FIFO (would block a blocking open), a socket-ish device, a
    # symlink loop, a directory named *.yaml.
    pd = e.policy_dir
    os.mkfifo(os.path.join(pd, '10-fifo.yaml'))
    hup_rejected(e, setup=lambda: None)
    os.unlink(os.path.join(pd, '10-fifo.yaml'))
    os.symlink('20-loop.yaml', os.path.join(pd, '20-loop.yaml'))
    hup_rejected(e, setup=lambda: None)
    os.unlink(os.path.join(pd, '20-loop.yaml'))
    os.symlink('/dev/zero', os.path.join(pd, '30-zero.yaml'))
    hup_rejected(e, setup=lambda: None)
    os.unlink(os.path.join(pd, '30-zero.yaml'))
    os.mkdir(os.path.join(pd, '40-dir.yaml'))
    hup_rejected(e, setup=lambda: None)
    os.rmdir(os.path.join(pd, '40-dir.yaml'))
    figures.append('FIFO, symlink loop, /dev/zero link and a directory in policy.d: each rejected, old policy kept')
    expect(e.daemon.poll() is None, 'alive')


if __name__ == '__main__':
    rc = run([test_policy_abuse])
    for f in figures:
        print('figure: ' + f)
    sys.exit(rc)

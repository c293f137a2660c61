#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""3: kill -9 at every step of an AssignGroup; 4: runtime assignments survive a restart, not a reboot.

The kill comes from inside, exactly between two writes: DMA_OWNERD_TEST_FAULTS='*=kill@K' makes the daemon send
itself SIGKILL right before its K-th sysfs write (daemon/main.c). The assignment of group 5 (three driverless
endpoints) takes 6 writes in two rounds: the three overrides one by one, then the three probes at once (while a
fault seam is set, the actuator makes its writes one at a time, so "before the K-th" is exact). K = 1..6 covers
every gap; K = 7 (after the last write,
before the runtime state says "done") is produced by writing the journal by hand. After each kill a daemon is
started without faults: it must roll the interrupted assignment back (the journal in --runtime-dir names the members
and their previous state) and end where a fresh daemon on the same tree would, with every rolled-back member in
its log."""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(__file__))
from hostile import ASSIGN_FUNCTIONS, ASSIGN_NIC, add_assign_topology  # noqa: E402
from hostile import Env, GROUP, PATH, eq, expect, run  # noqa: E402

A, B, C = ASSIGN_FUNCTIONS
NIC = ASSIGN_NIC
WRITES = 6
kills = 0


topology = add_assign_topology


def fresh_dump(e):
    '''What a daemon that never saw the runtime state says about the same tree (it writes nothing here: nothing is
    reserved without runtime state).'''
    saved = e.runtime_dir
    e.runtime_dir = os.path.join(e.tmp, 'run', 'fresh')
    try:
        e.start()
        d = e.dump()
        eq(e.stop(), 0, 'fresh daemon exit')
        return d
    finally:
        e.runtime_dir = saved


def kill_at(k):
    def t(e):
        global kills
        topology(e)
        e.start(faults=f'*=kill@{k}')
        _, err, msg = e.call('AssignGroup', 'st', ('5', 0))
        expect(err is not None, f'the call cannot succeed when the daemon dies: {err}')
        eq(e.wait_exit(), -signal.SIGKILL, 'killed by SIGKILL')
        state = e.runtime_state()
        expect(state and 'assigning 5 vfio-pci' in state, f'the journal was written before the first write: {state!r}')
        moved = [a for a in (A, B, C) if e.tree.override(a) == 'vfio-pci']
        eq(len(moved), min(k - 1, 3), f'overrides written before the kill at write {k}')

        e.start()
        log = e.log()
        for a in moved:
            expect(f'recovery: {a}: rolled back' in log, f'{a} rolled back and reported:\n{log}')
        for a in (A, B, C):
            expect(e.tree.override(a) != 'vfio-pci', f'{a} not left half-moved: {e.tree.override(a)!r}')
        eq(e.prop(PATH + '/group/5', GROUP, 'Reserved'), False, 'not reserved after recovery')
        state = e.runtime_state()
        expect('assigning' not in state and 'group 5' not in state, f'journal closed: {state!r}')
        after = e.dump()
        eq(e.stop(), 0, 'clean exit')
        eq(after, fresh_dump(e), 'the recovered daemon agrees with a fresh one')
        # And the assignment can be done again, completely.
        e.start()
        e.ok('AssignGroup', 'st', ('5', 0))
        for a in (A, B, C):
            eq(e.tree.override(a), 'vfio-pci', f'{a} after the retry')
        kills += 1
        print(f'  kill -9 before write {k}: {len(moved)} member(s) half-moved, rolled back on restart', flush=True)
    t.__name__ = f'test_kill_before_write_{k}'
    return t


def test_kill_after_last_write(e):
    '''All writes done, the state not yet saying so: the restart rolls the whole group back.'''
    global kills
    topology(e)
    for a in (A, B, C):
        e.tree.write(f'bus/pci/devices/{a}/driver_override', 'vfio-pci')
    os.makedirs(e.runtime_dir)
    with open(os.path.join(e.runtime_dir, 'state'), 'w') as f:
        f.write(f'assigning 5 vfio-pci\nmember {A} - -\nmember {B} - -\nmember {C} - -\n')
    e.start()
    for a in (A, B, C):
        eq(e.tree.override(a), '\n', f'{a} rolled back')
        expect(f'recovery: {a}: rolled back' in e.log(), e.log())
    eq(e.prop(PATH + '/group/5', GROUP, 'Reserved'), False, 'not reserved')
    kills += 1


def test_hostile_state_file(e):
    '''A mangled runtime state is parsed strictly: bad lines are skipped and said so, nothing reaches a path.'''
    topology(e)
    os.makedirs(e.runtime_dir)
    with open(os.path.join(e.runtime_dir, 'state'), 'wb') as f:
        f.write(b'group 5 vfio-pci\ngroup 5x ../../etc\ngroup 99999999999 vfio-pci\nmember 0000:00:05.0 - -\n'
                b'assigning 6 vfio-pci\nmember ../../../etc/passwd - -\nmember 0000:00:06.0 e1000e\xff -\n'
                b'group 7 \x1b[31m\n' + b'x' * 100000 + b'\ngroup 6\0 vfio-pci\n')
    e.start()
    eq(e.prop(PATH + '/group/5', GROUP, 'Reserved'), True, 'the good line is kept')
    eq(e.prop(PATH + '/group/6', GROUP, 'Reserved'), False, 'nothing else')
    expect('malformed runtime state line' in e.log(), e.log())
    eq(e.tree.read('bus/pci/drivers/e1000e/unbind'), '', 'nothing of the bad lines was written')


def test_restart_keeps_runtime_groups(e):
    topology(e)
    e.start()
    e.ok('AssignGroup', 'st', ('5', 0))
    eq(e.runtime_state().count('group 5 vfio-pci'), 1, 'state written')
    for how in (signal.SIGTERM, signal.SIGKILL):
        e.stop(how)
        e.start()
        eq(e.prop(PATH + '/group/5', GROUP, 'Reserved'), True, f'still assigned after {how.name} + restart')
        for a in (A, B, C):
            eq(e.tree.override(a), 'vfio-pci', f'{a} still held')
    # A host driver binding while the daemon was down is a violation the restarted daemon acts on.
    e.stop(signal.SIGKILL)
    e.tree.set_driver(B, 'nouveau')
    e.start()
    eq(e.tree.read('bus/pci/drivers/nouveau/unbind'), B, 'the intruder was unbound at start')
    # Release ends it for good.
    e.ok('ReleaseGroup', 'st', ('5', 0))
    e.tree.set_driver(B, None)
    e.stop()
    e.start()
    eq(e.prop(PATH + '/group/5', GROUP, 'Reserved'), False, 'released stays released')


def test_reboot_forgets(e):
    topology(e)
    e.start()
    e.ok('AssignGroup', 'st', ('5', 0))
    e.stop()
    # A reboot: /run is empty and the kernel's driver_override is back to "(null)".
    for name in os.listdir(e.runtime_dir):
        os.unlink(os.path.join(e.runtime_dir, name))
    for a in (A, B, C):
        e.tree.write(f'bus/pci/devices/{a}/driver_override', '(null)\n')
    e.start()
    eq(e.prop(PATH + '/group/5', GROUP, 'Reserved'), False, 'gone after the reboot')
    for a in (A, B, C):
        eq(e.tree.override(a), '(null)\n', f'{a} untouched')


TESTS = [kill_at(k) for k in range(1, WRITES + 1)] + [test_kill_after_last_write, test_hostile_state_file,
                                                      test_restart_keeps_runtime_groups, test_reboot_forgets]

if __name__ == '__main__':
    rc = run(TESTS)
    print(f'figure: kill -9 at {kills} of {WRITES + 1} points of an AssignGroup, every restart converged')
    sys.exit(rc)

#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""2: devices that vanish mid-operation, and sysfs writes that fail with EBUSY, ENODEV, EACCES, EIO.

The failures are injected with DMA_OWNERD_TEST_FAULTS (daemon/main.c: honoured only on a test tree): the write of
one attribute fails with the errno before it reaches the file, or the device is removed from the tree (bus link,
group link, driver link and the attribute) right before the write. Each case: the daemon keeps running, the call
fails naming the device and the errno, what was moved is rolled back, and the model (the bus properties) equals
the tree."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from hostile import ASSIGN_FUNCTIONS, ASSIGN_NIC, add_assign_topology  # noqa: E402
from hostile import Env, GROUP, PATH, DEVICE, device_path, eq, expect, run  # noqa: E402

A, B, C = ASSIGN_FUNCTIONS
NIC = ASSIGN_NIC
ERRNOS = {'EBUSY': 'Device or resource busy', 'ENODEV': 'No such device', 'EACCES': 'Permission denied',
          'EIO': 'Input/output error'}
cases = 0


topology = add_assign_topology


def check_model_is_tree(e):
    '''The daemon's view equals the tree: every device it lists exists with that override, and vice versa.'''
    listed = {a for a, _ in e.ok('ListDevices')[0]}
    present = set(os.listdir(e.tree.p('bus/pci/devices')))
    eq(listed, present, 'devices on the bus vs. in the tree')
    for a in present:
        raw = e.tree.override(a).strip()
        want = '' if raw in ('', '(null)') else raw
        eq(e.prop(device_path(a), DEVICE, 'DriverOverride'), want, f'DriverOverride of {a}')
    expect(e.daemon.poll() is None, 'the daemon is still running')


def assign_with_fault(e, rel, errno_name, expect_failed):
    global cases
    topology(e)
    e.start(faults=f'{rel}={errno_name}@1')
    _, err, msg = e.call('AssignGroup', 'st', ('5', 0))
    expect(err is not None, f'AssignGroup with {errno_name} on {rel} must fail')
    expect(expect_failed in msg, f'the error names {expect_failed}: {msg}')
    if errno_name in ERRNOS:
        expect(ERRNOS[errno_name] in msg, f'the error names {errno_name}: {msg}')
    eq(e.prop(PATH + '/group/5', GROUP, 'Reserved'), False, 'not reserved after a failed assign')
    for a in (A, B, C):
        if os.path.exists(e.tree.p(f'bus/pci/devices/{a}')):
            expect(e.tree.override(a).strip() in ('', '(null)'), f'{a} rolled back or untouched: '
                   f'{e.tree.override(a)!r}')
    check_model_is_tree(e)
    state = e.runtime_state()
    expect(state is not None and 'assigning' not in state and 'group 5' not in state, f'runtime state: {state!r}')
    cases += 1
    print(f'  {errno_name} on {rel}: {err}: {msg}', flush=True)


def make_errno_test(errno_name, rel):
    def t(e):
        assign_with_fault(e, rel, errno_name, B)
    t.__name__ = f'test_assign_{errno_name}_{rel.rsplit("/", 1)[-1]}'
    return t


def test_probe_eio(e):
    # The first drivers_probe, A's, fails: the three overrides are set, then the probe round runs (in member order
    # while a fault seam is set) and A's fails; all three are rolled back.
    assign_with_fault(e, f'bus/pci/drivers_probe', 'EIO', A)


def test_vanish_during_assign(e):
    global cases
    topology(e)
    e.start(faults=f'bus/pci/devices/{B}/driver_override=vanish@1')
    _, err, msg = e.call('AssignGroup', 'st', ('5', 0))
    expect(err is not None and B in msg, f'the failure names {B}: {err} {msg}')
    expect('No such device' in msg, msg)
    expect(B not in {a for a, _ in e.ok('ListDevices')[0]}, 'the vanished device left the model')
    eq(e.tree.override(A).strip(), '', 'A rolled back')
    eq([device_path(a) for a in (A, C)], e.prop(PATH + '/group/5', GROUP, 'Devices'), 'group 5 members')
    check_model_is_tree(e)
    cases += 1
    print(f'  vanish during AssignGroup: {err}: {msg}')


def test_vanish_during_release(e):
    global cases
    topology(e)
    # The first write of B's override is the assign's, the second the release's clear.
    e.start(faults=f'bus/pci/devices/{B}/driver_override=vanish@2')
    e.ok('AssignGroup', 'st', ('5', 0))
    eq(e.prop(PATH + '/group/5', GROUP, 'Reserved'), True, 'assigned')
    _, err, msg = e.call('ReleaseGroup', 'st', ('5', 0))
    expect(err is not None and B in msg and 'No such device' in msg, f'the failure names {B}: {err} {msg}')
    expect(B not in {a for a, _ in e.ok('ListDevices')[0]}, 'the vanished device left the model')
    check_model_is_tree(e)
    # What is left of the group can still be released.
    e.ok('ReleaseGroup', 'st', ('5', 0))
    for a in (A, C):
        eq(e.tree.override(a), '\n', f'{a} released')
    check_model_is_tree(e)
    cases += 1
    print(f'  vanish during ReleaseGroup: {err}: {msg}')


def test_release_eacces(e):
    global cases
    topology(e)
    e.start(faults=f'bus/pci/devices/{C}/driver_override=EACCES@2')
    e.ok('AssignGroup', 'st', ('5', 0))
    _, err, msg = e.call('ReleaseGroup', 'st', ('5', 0))
    expect(err is not None and C in msg and 'Permission denied' in msg, f'{err} {msg}')
    check_model_is_tree(e)
    eq(e.tree.override(C), 'vfio-pci', 'C kept its override (the clear failed)')
    cases += 1
    print(f'  EACCES during ReleaseGroup: {err}: {msg}')


def test_engine_write_fails(e):
    '''The event path (not AssignGroup): a reservation whose override write fails is reported, not retried
    forever, and the daemon goes on.'''
    global cases
    topology(e)
    e.set_policy(f'mode: enforce\nreservations:\n  - name: nic\n    match:\n      address: "{NIC}"\n')
    e.start(faults=f'bus/pci/devices/{NIC}/driver_override=EIO')
    eq(e.prop(PATH, 'org.dmaownerd1.Manager', 'WriteFailures') >= 1, True, 'the failure is counted')
    expect('RESULT=EIO' in e.log(), 'the failed write is audited with its errno')
    check_model_is_tree(e)
    cases += 1


TESTS = [make_errno_test(n, f'bus/pci/devices/{B}/driver_override') for n in ERRNOS] + [
    test_probe_eio, test_vanish_during_assign, test_vanish_during_release, test_release_eacces,
    test_engine_write_fails]

if __name__ == '__main__':
    rc = run(TESTS)
    print(f'figure: {cases} injected failure cases (EBUSY, ENODEV, EACCES, EIO, vanish in assign and release), '
          f'daemon alive and model equal to the tree after each')
    sys.exit(rc)

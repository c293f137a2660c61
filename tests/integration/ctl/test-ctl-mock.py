#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# dma-ownerctl against a MOCK of org.dmaownerd1 (mock-dmaownerd.py) on a private dbus-daemon. This tests the CLI
# alone: argument checking, output (text, JSON, colour), exit codes and the calls it makes. The test of the real
# daemon on a real private bus is separate.
# Usage: test-ctl-mock.py PATH/TO/dma-ownerctl

import json
import os
import pty
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mockbus import MockBus, missing  # noqa: E402
SKIP = 77
failures = []


def check(cond, what, detail=''):
    if cond:
        print('ok - %s' % what)
    else:
        print('not ok - %s%s' % (what, ('\n#   ' + detail.replace('\n', '\n#   ')) if detail else ''))
        failures.append(what)


class Ctl:
    def __init__(self, exe, address):
        self.exe = exe
        self.address = address

    def run(self, *args, env=None, address=True):
        argv = [self.exe] + (['--address=' + self.address] if address else []) + list(args)
        e = dict(os.environ)
        e.pop('NO_COLOR', None)
        e.update(env or {})
        p = subprocess.run(argv, capture_output=True, text=True, env=e, timeout=60)
        return p.returncode, p.stdout, p.stderr


def expect(ctl, args, rc, stdout=None, stderr=None, what=None, **kw):
    code, out, err = ctl.run(*args, **kw)
    what = what or ' '.join(args)
    detail = 'rc=%d\nstdout:\n%s\nstderr:\n%s' % (code, out, err)
    check(code == rc, '%s: exit %d' % (what, rc), detail)
    if stdout is not None:
        check(out == stdout, '%s: stdout' % what, detail + '\nexpected stdout:\n' + stdout)
    if stderr is not None:
        check(err == stderr, '%s: stderr' % what, detail + '\nexpected stderr:\n' + stderr)
    return out, err


def mock_calls(address):
    out = subprocess.run(['busctl', '--address=' + address, '--json=short', 'call', 'org.dmaownerd1',
                          '/org/dmaownerd1', 'org.dmaownerd1.Mock', 'Calls'],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    return json.loads(out)['data'][0]


def mock_call(address, method):
    subprocess.run(['busctl', '--address=' + address, 'call', 'org.dmaownerd1', '/org/dmaownerd1',
                    'org.dmaownerd1.Mock', method], check=True, capture_output=True, timeout=30)


LIST = '''\
group 1  owner kernel  viable
    0000:00:1c.0  8086:a110  060400  pcieport  bridge
group 12  owner user  reserved  viable
    0000:01:00.0  10de:1b80  030000  vfio-pci  override=vfio-pci
    0000:01:00.1  10de:10f0  040300  snd_hda_intel
    holder 4242 qemu\\x1b[31m (machine-qemu\\x2dvm.scope)
group 13  owner kernel  not viable
    0000:02:00.0  8086:10d3  020000  e1000e  net=eth0
    blocker 0000:02:00.0: network interface eth0 is up and carries an address
group 14  owner kernel  viable
    0000:03:00.0  144d:a808  010802  nvme
'''

SHOW_DEVICE = '''\
         Address: 0000:02:00.0
   Vendor:Device: 8086:10d3
       Subsystem: 8086:1234
           Class: 020000
          Driver: e1000e
 Driver override: -
          Pinned: no
     Manages DMA: no
          Bridge: no
         Network: eth0
     IOMMU group: 13
'''

SHOW_GROUP = '''\
     IOMMU group: 12
           Owner: user
        Reserved: yes
          Viable: yes
         Holders: 4242 qemu\\x1b[31m (machine-qemu\\x2dvm.scope)
         Devices:
    0000:01:00.0  10de:1b80  030000  vfio-pci  override=vfio-pci
    0000:01:00.1  10de:10f0  040300  snd_hda_intel
'''

BAD_TARGET = ('dma-ownerctl: invalid target "%s": expected a PCI address dddd:bb:dd.f or a group number\n')


def test_reads(ctl):
    expect(ctl, ['list'], 0, LIST)
    expect(ctl, [], 0, LIST, what='no verb lists')

    out, _ = expect(ctl, ['list', '--json'], 0)
    groups = json.loads(out)
    check([g['Number'] for g in groups] == [1, 12, 13, 14], 'list --json: groups sorted by number', out)
    g12 = groups[1]
    check(g12['Owner'] == 'user' and g12['Reserved'] is True and g12['Viable'] is True, 'list --json: group 12')
    check(g12['Holders'] == [{'Pid': 4242, 'Comm': 'qemu\x1b[31m', 'Unit': 'machine-qemu\\x2dvm.scope'}],
          'list --json: holders round-trip, escape included', repr(g12['Holders']))
    check([d['Address'] for d in g12['Devices']] == ['0000:01:00.0', '0000:01:00.1'],
          'list --json: devices sorted by address')
    d = g12['Devices'][0]
    check(d == {'Path': '/org/dmaownerd1/device/_30000_3a01_3a00_2e0', 'Address': '0000:01:00.0',
                'VendorId': 0x10de, 'DeviceId': 0x1b80, 'SubsystemVendorId': 0x10de, 'SubsystemDeviceId': 0x1234,
                'Class': 0x030000, 'Driver': 'vfio-pci',
                'DriverOverride': 'vfio-pci', 'DriverManagesDma': True, 'Group': '/org/dmaownerd1/group/12',
                'NetworkInterfaces': [], 'IsBridge': False, 'Pinned': False}, 'list --json: device properties',
          repr(d))
    check(out.count('\n') == 1 and '\\u001b' in out, 'list --json: one line, control characters escaped')

    expect(ctl, ['show', '0000:02:00.0'], 0, SHOW_DEVICE)
    expect(ctl, ['show', '12'], 0, SHOW_GROUP)
    out, _ = expect(ctl, ['show', '--json', '13'], 0)
    g = json.loads(out)
    check(g['Number'] == 13 and g['Viable'] is False and g['Devices'][0]['NetworkInterfaces'] == ['eth0'],
          'show --json 13', out)
    out, _ = expect(ctl, ['show', '--json', '0000:00:1c.0'], 0)
    check(json.loads(out)['IsBridge'] is True, 'show --json device', out)

    expect(ctl, ['show', '0000:09:00.0'], 6, '', 'dma-ownerctl: show 0000:09:00.0: No device 0000:09:00.0\n')
    expect(ctl, ['show', '99'], 6, '', 'dma-ownerctl: show 99: No IOMMU group 99\n')

    expect(ctl, ['check', '13'], 3,
           '13: cannot be assigned\n  0000:02:00.0: network interface eth0 is up and carries an address\n')
    expect(ctl, ['check', '0000:01:00.0'], 0, '0000:01:00.0: can be assigned\n')
    expect(ctl, ['check', '--json', '013'], 3,
           '{"Target":"13","Viable":false,"Reasons":["0000:02:00.0: network interface eth0 is up and carries '
           'an address"]}\n', what='check --json 013 (canonicalised)')
    expect(ctl, ['check', '77'], 6, '', 'dma-ownerctl: check 77: No IOMMU group 77\n')

    expect(ctl, ['mode'], 0, 'enforce\n')
    expect(ctl, ['mode', '--json'], 0, '{"Mode":"enforce"}\n')


def test_validation(ctl):
    # Rejected before the bus: even with a bus address that cannot work, the answer is a usage error (2), not
    # "daemon not reachable" (5), and the mock sees no call.
    bad = Ctl(ctl.exe, 'unix:path=/nonexistent/dma-ownerctl-test')
    for target in ['0000:00:1F.0', '../../sys/bus/pci', '0000:00:1f.0/../x', '-1', '0x0c', '1.5', '']:
        expect(bad, ['assign', '--', target], 2, '', BAD_TARGET % target, what='assign %r' % target)
    expect(bad, ['mode', 'permissive'], 2, '',
           'dma-ownerctl: invalid mode "permissive": expected enforce or audit\n')
    expect(bad, ['reload', '--json'], 2, '', 'dma-ownerctl: --json does not apply to reload\n')
    expect(bad, ['list'], 5, '', what='unreachable bus address')
    check(mock_calls(ctl.address) == [], 'nothing reached the mock')


def test_writes(ctl):
    expect(ctl, ['assign', '13'], 1, '', 'dma-ownerctl: assign 13: 0000:02:00.0: eth0 is up and carries an '
           'address\n', what='assign refused with InUse')
    expect(ctl, ['assign', '--force', '--persist', '0000:02:00.0'], 0, '0000:02:00.0: e1000e -> vfio-pci\n', '',
           what='assign prints the report')
    expect(ctl, ['assign', '14'], 4, '', 'dma-ownerctl: assign 14: Access denied by polkit (mock)\n')
    expect(ctl, ['assign', '0000:0a:00.0'], 6, '', 'dma-ownerctl: assign 0000:0a:00.0: No device 0000:0a:00.0\n')
    out, _ = expect(ctl, ['show', '--json', '13'], 0)
    check(json.loads(out)['Owner'] == 'user', 'assign changed the owner', out)
    expect(ctl, ['release', '--persist', '13'], 0, '', '')
    expect(ctl, ['release', '--force', '13'], 2, '', 'dma-ownerctl: --force only applies to assign\n')
    expect(ctl, ['mode', 'audit'], 0, '', '')
    expect(ctl, ['mode'], 0, 'audit\n')
    expect(ctl, ['mode', 'enforce'], 0, '', '')
    expect(ctl, ['reload'], 0, '', '')
    expect(ctl, ['rescan'], 0, '', '')
    calls = mock_calls(ctl.address)
    check(calls == ['AssignGroup 13 0', 'AssignGroup 0000:02:00.0 3', 'AssignGroup 14 0', 'ReleaseGroup 13 2',
                    'SetMode audit', 'SetMode enforce', 'Reload', 'Rescan'], 'calls and flags as sent', repr(calls))


def test_monitor(ctl):
    p = subprocess.Popen([ctl.exe, '--address=' + ctl.address, 'monitor', '--json'], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        # The match is in place once the first signal gets through: poke until one line arrives (a readiness
        # wait, not a timing assertion).
        first = None
        for _ in range(100):
            mock_call(ctl.address, 'EmitViolation')
            import select
            r, _, _ = select.select([p.stdout], [], [], 0.2)
            if r:
                first = p.stdout.readline()
                break
        check(first is not None, 'monitor: receives signals')
        if first is None:
            return
        check(json.loads(first) == {'Signal': 'Violation', 'Device': '0000:01:00.1', 'Driver': 'snd_hda_intel',
                                    'Group': 12, 'Rule': 'gpu "passthrough"', 'Action': 'unbind'},
              'monitor: Violation', first)
        # Drain extra Violations sent while waiting, then trigger one of each kind in a known order.
        mock_call(ctl.address, 'EmitPropertyChange')
        expect(ctl, ['reload'], 0, '', '')
        lines = []
        while len(lines) < 2:
            line = p.stdout.readline()
            if not line:
                break
            if json.loads(line)['Signal'] != 'Violation':
                lines.append(json.loads(line))
        check(lines == [{'Signal': 'PropertiesChanged', 'Path': '/org/dmaownerd1/group/12',
                         'Interface': 'org.dmaownerd1.Group', 'Changed': {'Viable': False}, 'Invalidated': []},
                        {'Signal': 'PolicyReloaded', 'Ok': True, 'Error': ''}],
              'monitor: PropertiesChanged and PolicyReloaded', repr(lines))
    finally:
        p.send_signal(signal.SIGINT)
        try:
            rc = p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = None
    check(rc == 0, 'monitor: exits 0 on SIGINT', 'rc=%r stderr=%s' % (rc, p.stderr.read()))


def test_colour(ctl):
    def run_on_pty(env):
        master, slave = pty.openpty()
        e = dict(os.environ)
        e.pop('NO_COLOR', None)
        e['TERM'] = 'xterm'
        e.update(env)
        p = subprocess.Popen([ctl.exe, '--address=' + ctl.address, 'list'], stdout=slave, stderr=slave, env=e)
        os.close(slave)
        data = b''
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        os.close(master)
        p.wait(timeout=30)
        return data.decode('utf-8', 'replace')

    coloured = run_on_pty({})
    check('\x1b[1mgroup 12\x1b[0m' in coloured, 'colour on a tty', repr(coloured[:200]))
    plain = run_on_pty({'NO_COLOR': '1'})
    check('\x1b[' not in plain.replace('\\x1b[', ''), 'NO_COLOR respected', repr(plain[:200]))
    check('\x1b' not in ctl.run('list')[1], 'no colour into a pipe')


def test_policy(ctl, tmp):
    out, _ = expect(ctl, ['policy', 'generate'], 0)
    check('allowed-drivers:\n  - "snd_hda_intel"\n' in out, 'policy generate: allows the driver beside vfio', out)
    check('  - name: group-12\n    match:\n      address: "0000:01:00.0"\n      vendor: 0x10de\n'
          '      device: 0x1b80\n    driver: "vfio-pci"\n    whole-group: true\n' in out,
          'policy generate: reserves group 12', out)
    check('nvme' not in out and 'e1000e' not in out and 'pcieport' not in out,
          'policy generate: nothing from groups without vfio', out)
    path = os.path.join(tmp, 'generated.yaml')
    with open(path, 'w') as f:
        f.write(out)
    out, _ = expect(ctl, ['policy', 'check', path], 0, address=False, what='policy check of the generated policy')
    check('name: "group-12"' in out, 'policy check prints the effective policy', out)
    bad = os.path.join(tmp, 'bad.yaml')
    with open(bad, 'w') as f:
        f.write('mode: bogus\n')
    expect(ctl, ['policy', 'check', bad], 1, '',
           '%s:1:7: invalid value "bogus" for "mode" (expected enforce or audit)\n' % bad, address=False)


def test_system_bus_env(ctl):
    # Without --address the system bus is used, and DBUS_SYSTEM_BUS_ADDRESS points it elsewhere.
    code, out, err = ctl.run('mode', address=False, env={'DBUS_SYSTEM_BUS_ADDRESS': ctl.address})
    check(code == 0 and out == 'enforce\n', 'DBUS_SYSTEM_BUS_ADDRESS honoured', out + err)


def main():
    if len(sys.argv) != 2:
        print('usage: test-ctl-mock.py DMA-OWNERCTL', file=sys.stderr)
        return 2
    why = missing(('dbus-daemon', 'busctl'))
    if why:
        print('1..0 # SKIP %s' % why)
        return SKIP

    with tempfile.TemporaryDirectory(prefix='dma-ownerctl-test.') as tmp:
        try:
            mb = MockBus(tmp)
        except RuntimeError as e:
            print('not ok - %s' % e)
            return 1
        with mb:
            ctl = Ctl(sys.argv[1], mb.address)
            test_reads(ctl)
            test_validation(ctl)
            test_writes(ctl)
            test_monitor(ctl)
            test_colour(ctl)
            test_policy(ctl, tmp)
            test_system_bus_env(ctl)

            # The daemon gone: exit 5 and a hint.
            mb.stop_mock()
            code, out, err = ctl.run('list')
            check(code == 5 and 'is dma-ownerd running?' in err, 'daemon not reachable: exit 5', err)

    print('# %d failure(s)' % len(failures))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())

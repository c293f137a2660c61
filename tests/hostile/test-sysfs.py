#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""7: hostile sysfs content. A tree with control characters and invalid UTF-8 in attributes and link names,
missing files, dangling links, symlink loops, a group listing a device that is gone, names in bus/pci/devices that
are not PCI addresses. The daemon must start, and nothing it says on the bus may be anything but printable ASCII
that came through validation (driver names, overrides, interface names); --scan-only must survive the tree too."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from hostile import Env, DAEMON, DEVICE, GROUP, MANAGER, PATH, eq, expect, run, sanitizer_env  # noqa: E402

GOOD = '0000:00:05.0'
strings_checked = 0


def hostile_tree(e):
    t = e.tree
    t.add(GOOD, group=5, driver='e1000e')
    # Control characters and invalid UTF-8 in driver_override, vendor, class.
    t.add('0000:00:06.0', group=6)
    t.write('bus/pci/devices/0000:00:06.0/driver_override', 'vfio\x1b[31m\x07\n')
    t.add('0000:00:06.1', group=6)
    with open(t.p('bus/pci/devices/0000:00:06.1/driver_override'), 'wb') as f:
        f.write(b'\xff\xfe\xc0\xaf\n')
    with open(t.p('bus/pci/devices/0000:00:06.1/vendor'), 'wb') as f:
        f.write(b'0x80\xff86\n')
    t.add('0000:00:06.2', group=6)
    t.write('bus/pci/devices/0000:00:06.2/class', '0x' + 'f' * 5000 + '\n')
    # A driver link whose name is not a driver name (newline, escape, invalid UTF-8, 300 bytes).
    for i, name in enumerate(('bad\nname', 'e\x1b]0;pwned\x07', 'x\udcff'.encode('utf-8', 'surrogateescape')
                              .decode('utf-8', 'surrogateescape'), 'd' * 250)):
        a = f'0000:00:07.{i}'
        t.add(a, group=7)
        drv = t.p(f'bus/pci/drivers/{name}')
        os.makedirs(drv, exist_ok=True)
        os.symlink(f'../../../bus/pci/drivers/{name}', t.p(f'{t.DEVICES}/{a}/driver'))
    # Missing files.
    t.add('0000:00:08.0', group=8)
    for f in ('vendor', 'device', 'class', 'config', 'driver_override'):
        os.unlink(t.p(f'bus/pci/devices/0000:00:08.0/{f}'))
    # Dangling and looping iommu_group links, a dangling driver link.
    t.add('0000:00:09.0')
    os.symlink('../../../kernel/iommu_groups/4242', t.p(f'{t.DEVICES}/0000:00:09.0/iommu_group'))
    t.add('0000:00:09.1')
    os.symlink('iommu_group', t.p(f'{t.DEVICES}/0000:00:09.1/iommu_group'))
    t.add('0000:00:09.2', group=9)
    os.symlink('../../../bus/pci/drivers/nonexistent', t.p(f'{t.DEVICES}/0000:00:09.2/driver'))
    # A group listing a device that is gone, and a bus entry pointing nowhere.
    os.makedirs(t.p('kernel/iommu_groups/9/devices'), exist_ok=True)
    os.symlink('../../../../devices/pci0000:00/0000:00:0a.0', t.p('kernel/iommu_groups/9/devices/0000:00:0a.0'))
    os.symlink('../../../devices/pci0000:00/0000:00:0b.0', t.p('bus/pci/devices/0000:00:0b.0'))
    # Names that are not PCI addresses, and a loop.
    for bad in ('0000:00:zz.0', '..', 'x\ny', '0000:00:0c.0\x1b', 'ABCD:00:00.0'):
        try:
            os.symlink(f'../../../{t.DEVICES}/{GOOD}', t.p(f'bus/pci/devices/{bad}'))
        except FileExistsError:
            pass
    os.symlink('loop', t.p('bus/pci/devices/loop'))
    # Interface names with control characters.
    os.makedirs(t.p(f'{t.DEVICES}/{GOOD}/net/eth\x1b0'))
    os.makedirs(t.p(f'{t.DEVICES}/{GOOD}/net/ok0'))


def printable(v):
    global strings_checked
    if isinstance(v, str):
        strings_checked += 1
        return all(0x20 <= ord(c) < 0x7f for c in v)
    if isinstance(v, (list, tuple)):
        return all(printable(x) for x in v)
    if isinstance(v, dict):
        return all(printable(k) and printable(x) for k, x in v.items())
    return True


def test_hostile_sysfs(e):
    hostile_tree(e)
    p = subprocess.run([DAEMON, '--scan-only', f'--sysfs-root={e.tree.root}', f'--proc-root={e.proc_root}',
                        '--kernel-release=6.1.0'], capture_output=True, text=True, env=sanitizer_env(e.env),
                       timeout=60)
    eq(p.returncode, 0, f'--scan-only: {p.stderr}')
    e.set_policy('mode: enforce\nreservations:\n  - name: all\n    match:\n      vendor: 0x8086\n')
    e.start()
    dump = e.dump()
    dump['manager'] = e.all_props(PATH, MANAGER)
    expect(printable(dump), f'everything on the bus is printable ASCII: {dump!r}')
    listed = set(a for a, _ in e.ok('ListDevices')[0])
    for a in listed:
        expect(len(a) == 12 and a == a.lower(), f'only PCI addresses are listed: {a!r}')
    expect(GOOD in listed, 'the good device is there')
    expect('ok0' in dump[GOOD]['NetworkInterfaces'] and 'eth\x1b0' not in dump[GOOD]['NetworkInterfaces'],
           f'interfaces: {dump[GOOD]["NetworkInterfaces"]!r}')
    for a in ('0000:00:07.0', '0000:00:07.1', '0000:00:07.3'):
        if a in dump:
            expect(dump[a]['Driver'] in ('', '(unknown)'), f'{a}: a mangled driver name is not repeated: '
                   f'{dump[a]["Driver"]!r}')
    if '0000:00:06.0' in dump:
        expect('\x1b' not in dump['0000:00:06.0']['DriverOverride'], 'override escaped')
    # Nothing was written through a mangled name: only real paths under the tree.
    e.ok('Rescan')
    expect(e.daemon.poll() is None, 'alive after a rescan of the hostile tree')
    print(f'figure: {len(listed)} devices listed of a tree with 24 hostile entries; {strings_checked} strings '
          f'on the bus checked, all printable ASCII')


if __name__ == '__main__':
    sys.exit(run([test_hostile_sysfs]))

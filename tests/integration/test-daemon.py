#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The real dma-ownerd under umockdev.
#
# The daemon runs with libumockdev-preload.so preloaded and UMOCKDEV_DIR pointing at a testbed, so its /sys is the
# testbed's sys/ directory, its sysfs writes land in regular files we read back, and its uevent socket is a Unix
# socket the testbed sends to. What this relies on (umockdev 0.17):
#  - socket(AF_NETLINK, …, NETLINK_KOBJECT_UEVENT) becomes an AF_UNIX datagram socket, bound at
#    $UMOCKDEV_DIR/event<fd> whatever group libudev asked for; received messages get a faked netlink sender
#    (group 2 = udev, pid 0) and uid 0. So a libudev monitor of either source ("udev" or "kernel") gets them, and
#    libudev's own "udevd is not running, disable the udev monitor" shortcut (it binds to group 0 then) does not
#    matter either.
#  - Testbed.uevent(devpath, action) looks the device up with libudev *in the calling process*
#    (udev_device_new_from_syspath("/sys/…")), so this test runs under the preload library itself, as
#    umockdev-wrapper would run it: Testbed.new() sets UMOCKDEV_DIR, and our /sys becomes the testbed's. Without
#    that the lookup goes to the host's /sys and fails for any address the host does not have.
#  - It sends a libudev-format message (magic, subsystem hash) with ACTION, DEVPATH, SUBSYSTEM and SEQNUM. The
#    DRIVER= the daemon then sees is the one of the device's `uevent` file in the testbed when that file has one
#    (so we write it before each event, as the kernel fills it: the driver that bound or left), else libudev reads
#    the `driver` link. (Observed with umockdev 0.17.16 and systemd 252's libudev.)
#  - Testbed.add_device()/add_from_string() send an "add" of their own as soon as the device exists, so devices
#    are created by hand here and the "add" is sent once they are complete.
#  - The datagram queue of a Unix socket is short (net.unix.max_dgram_qlen) and the sender does not block: we wait
#    for the daemon to react to one event before sending the next that matters.
#
# Writes are counted with inotify (IN_CLOSE_WRITE on every attribute the daemon may write), so "nothing was
# written" is an exact assertion, not a timing one. Every wait is a poll loop bounded by a generous deadline.

import ctypes
import ctypes.util
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest

PRELOAD = 'libumockdev-preload.so.0'
PRELOAD_MARK = 'libumockdev-preload'

# Run under the preload library (see above); the environment says whether we already do.
if PRELOAD_MARK not in os.environ.get('LD_PRELOAD', ''):
    env = dict(os.environ)
    env['LD_PRELOAD'] = PRELOAD + (':' + env['LD_PRELOAD'] if env.get('LD_PRELOAD') else '')
    env.pop('UMOCKDEV_DIR', None)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

try:
    import gi
    gi.require_version('UMockdev', '1.0')
    from gi.repository import UMockdev
except (ImportError, ValueError) as e:
    print(f'SKIP: umockdev GI bindings not available: {e}', file=sys.stderr)
    sys.exit(77)

DAEMON = os.environ.get('DMA_OWNERD')
TIMEOUT = 10.0

MID_POLICY_LOADED = '6f3c0d1a2b8e4c5d9a7f1e2d3c4b5a60'
MID_POLICY_REJECTED = '6f3c0d1a2b8e4c5d9a7f1e2d3c4b5a61'
MID_VIOLATION = '6f3c0d1a2b8e4c5d9a7f1e2d3c4b5a62'
MID_ACTION_DONE = '6f3c0d1a2b8e4c5d9a7f1e2d3c4b5a63'
MID_ACTION_FAILED = '6f3c0d1a2b8e4c5d9a7f1e2d3c4b5a64'
MID_DECISION = '6f3c0d1a2b8e4c5d9a7f1e2d3c4b5a66'
MID_STARTED = '6f3c0d1a2b8e4c5d9a7f1e2d3c4b5a68'

NIC = '0000:00:03.0'       # reserved by address, alone in group 3
SENTINEL = '0000:00:04.0'  # reserved by address, alone in group 4: its violation marks "earlier events are done"
HOTPLUG = '0000:00:05.0'   # matched by vendor/device, added while the daemon runs, group 5
BRIDGE = '0000:00:1c.0'    # bridge + endpoint in group 7, not reserved: never touched
ENDPOINT = '0000:01:00.0'

POLICY = '''\
mode: {mode}
on-violation: unbind
network-protection: true
reservations:
  - name: nic
    match:
      address: "0000:00:03.0"
    driver: vfio-pci
  - name: sentinel
    match:
      address: "0000:00:04.0"
  - name: hotplug
    match:
      vendor: 0x1af4
      device: 0x1041
'''
POLICY_NIC_LINE = 5  # the line of "- name: nic"

DRIVERS = ['e1000', 'e1000e', 'vfio-pci', 'shpchp', 'pcieport']


# ---- stderr records ----

def parse_record(line):
    '''Parse one stderr audit record, "dma-ownerd[PID]: KEY=VALUE …", into a dict; None for other lines.'''
    head, sep, rest = line.partition(': ')
    if not sep or not head.startswith('dma-ownerd[') or not rest.startswith('MESSAGE_ID='):
        return None
    fields = {}
    i = 0
    while i < len(rest):
        eq = rest.index('=', i)
        key = rest[i:eq]
        i = eq + 1
        if i < len(rest) and rest[i] == '"':
            i += 1
            value = []
            while rest[i] != '"':
                c = rest[i]
                if c == '\\':
                    n = rest[i + 1]
                    if n == 'x':
                        value.append(chr(int(rest[i + 2:i + 4], 16)))
                        i += 4
                        continue
                    value.append({'n': '\n', 't': '\t'}.get(n, n))
                    i += 2
                    continue
                value.append(c)
                i += 1
            i += 1
            fields[key] = ''.join(value)
        else:
            end = rest.find(' ', i)
            end = len(rest) if end < 0 else end
            fields[key] = rest[i:end]
            i = end
        while i < len(rest) and rest[i] == ' ':
            i += 1
    return fields


class TestParseRecord(unittest.TestCase):
    def test_parse(self):
        r = parse_record('dma-ownerd[12]: MESSAGE_ID=abc PRIORITY=4 KIND=violation DEVICE=0000:00:03.0 '
                         'RULE="/tmp/a b.yaml:5" X="q\\"\\\\\\n\\x01" MESSAGE="a \\"b\\""')
        self.assertEqual(r, {'MESSAGE_ID': 'abc', 'PRIORITY': '4', 'KIND': 'violation', 'DEVICE': '0000:00:03.0',
                             'RULE': '/tmp/a b.yaml:5', 'X': 'q"\\\n\x01', 'MESSAGE': 'a "b"'})
        self.assertIsNone(parse_record('dma-ownerd[12]: listening for kernel uevents'))


# ---- inotify, to count writes ----

IN_CLOSE_WRITE = 0x00000008
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000


class WriteCounter:
    '''Counts IN_CLOSE_WRITE per watched file: one per open-for-write by anyone, the daemon or us.'''

    def __init__(self):
        self.libc = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True)
        self.fd = self.libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), 'inotify_init1')
        self.paths = {}
        self.counts = {}

    def watch(self, path):
        wd = self.libc.inotify_add_watch(self.fd, os.fsencode(path), IN_CLOSE_WRITE)
        if wd < 0:
            raise OSError(ctypes.get_errno(), f'inotify_add_watch {path}')
        self.paths[wd] = path
        self.counts.setdefault(path, 0)

    def collect(self):
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            off = 0
            while off < len(buf):
                wd, mask, _cookie, length = struct.unpack_from('iIII', buf, off)
                off += 16 + length
                if mask & IN_CLOSE_WRITE and wd in self.paths:
                    self.counts[self.paths[wd]] += 1

    def reset(self):
        '''Forget what happened so far (our own resets included).'''
        self.collect()
        for p in self.counts:
            self.counts[p] = 0

    def count(self, path):
        self.collect()
        return self.counts[path]

    def total(self):
        self.collect()
        return sum(self.counts.values())

    def close(self):
        os.close(self.fd)


# ---- the testbed ----

def config_space(vendor, device, cls, header_type):
    c = bytearray(64)
    struct.pack_into('<HH', c, 0, vendor, device)
    c[9] = cls & 0xff
    c[10] = (cls >> 8) & 0xff
    c[11] = (cls >> 16) & 0xff
    c[0x0e] = header_type
    return bytes(c)


class Bed:
    '''A umockdev testbed laid out as the kernel lays out PCI: devices, bus/pci, drivers, IOMMU groups.'''

    def __init__(self):
        self.testbed = UMockdev.Testbed.new()
        self.root = self.testbed.get_root_dir()
        self.sys = self.testbed.get_sys_dir()
        self.devpaths = {}  # address -> path relative to sys/
        os.makedirs(os.path.join(self.sys, 'bus/pci/drivers'), exist_ok=True)
        self.write('bus/pci/drivers_probe', '')
        for d in DRIVERS:
            for f in ('bind', 'unbind', 'new_id', 'remove_id'):
                self.write(f'bus/pci/drivers/{d}/{f}', '')

    def path(self, rel):
        return os.path.join(self.sys, rel)

    def write(self, rel, contents):
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, 'w') as f:
            f.write(contents)

    def read(self, rel):
        with open(self.path(rel)) as f:
            return f.read()

    def dev(self, address, attr=''):
        return os.path.join(self.devpaths[address], attr) if attr else self.devpaths[address]

    def add(self, address, vendor, device, cls, group, parent=None, header_type=0, driver=None):
        '''Create a device the way the kernel shows one. Written by hand rather than with add_from_string(), which
        sends an "add" uevent of its own as soon as the device directory exists; the caller sends it here, once the
        device is complete.'''
        devpath = f'{self.devpaths[parent]}/{address}' if parent else f'devices/pci0000:00/{address}'
        up = '../' * (devpath.count('/') + 1)  # from the device directory back to sys/
        os.makedirs(self.path(devpath))
        for name, value in (('vendor', f'0x{vendor:04x}\n'), ('device', f'0x{device:04x}\n'),
                            ('subsystem_vendor', f'0x{vendor:04x}\n'), ('subsystem_device', '0x0001\n'),
                            ('class', f'0x{cls:06x}\n'), ('driver_override', '(null)\n'),
                            ('uevent', f'PCI_SLOT_NAME={address}\n')):
            self.write(f'{devpath}/{name}', value)
        with open(self.path(f'{devpath}/config'), 'wb') as f:
            f.write(config_space(vendor, device, cls, header_type))
        os.symlink(f'{up}bus/pci', self.path(f'{devpath}/subsystem'))
        os.symlink(f'{up}kernel/iommu_groups/{group}', self.path(f'{devpath}/iommu_group'))
        gdir = self.path(f'kernel/iommu_groups/{group}/devices')
        os.makedirs(gdir, exist_ok=True)
        os.symlink('../../../../' + devpath, os.path.join(gdir, address))
        self.devpaths[address] = devpath
        self.set_driver(address, driver)
        os.makedirs(self.path('bus/pci/devices'), exist_ok=True)
        os.symlink('../../../' + devpath, self.path(f'bus/pci/devices/{address}'))
        return devpath

    def set_driver(self, address, driver):
        '''What a bind or unbind does to sysfs: the driver link and the driver's device link.'''
        devpath = self.devpaths[address]
        link = self.path(f'{devpath}/driver')
        if os.path.islink(link):
            old = os.path.basename(os.readlink(link))
            os.unlink(link)
            back = self.path(f'bus/pci/drivers/{old}/{address}')
            if os.path.islink(back):
                os.unlink(back)
        if driver:
            os.symlink('../' * (devpath.count('/') + 1) + f'bus/pci/drivers/{driver}', link)
            os.symlink('../../../../' + devpath, self.path(f'bus/pci/drivers/{driver}/{address}'))

    def uevent(self, address, action, driver=None):
        '''Emit a uevent; DRIVER= is what the kernel puts there (the driver that bound or left).'''
        props = f'PCI_SLOT_NAME={address}\n'
        if driver:
            props = f'DRIVER={driver}\n' + props
        self.write(f'{self.devpaths[address]}/uevent', props)
        self.testbed.uevent('/sys/' + self.devpaths[address], action)


def build_topology():
    bed = Bed()
    bed.add(NIC, 0x8086, 0x100e, 0x020000, 3)
    bed.add(SENTINEL, 0x1b36, 0x0005, 0x00ff00, 4)
    bed.add(BRIDGE, 0x8086, 0xa110, 0x060400, 7, header_type=0x01, driver='pcieport')
    bed.add(ENDPOINT, 0x8086, 0x10d3, 0x020000, 7, parent=BRIDGE, driver='e1000e')
    return bed


# ---- the daemon ----

class Daemon:
    def __init__(self, bed, policy, workdir, source, extra_args=()):
        self.records = []
        self.lines = []
        self._partial = b''
        empty = os.path.join(workdir, 'empty')
        proc = os.path.join(workdir, 'proc')
        os.makedirs(empty, exist_ok=True)
        os.makedirs(proc, exist_ok=True)
        netdev = os.path.join(workdir, 'netdev')
        open(netdev, 'w').close()

        env = dict(os.environ)
        env['UMOCKDEV_DIR'] = bed.root
        if PRELOAD_MARK not in env.get('LD_PRELOAD', ''):
            env['LD_PRELOAD'] = PRELOAD + (':' + env['LD_PRELOAD'] if env.get('LD_PRELOAD') else '')
        # A sanitizer build wants its runtime first in the library list; the preload library goes first here.
        env['ASAN_OPTIONS'] = (env.get('ASAN_OPTIONS', '') + ':verify_asan_link_order=0').lstrip(':')
        env.setdefault('UBSAN_OPTIONS', 'print_stacktrace=1:halt_on_error=1')
        env.pop('NOTIFY_SOCKET', None)
        env.pop('JOURNAL_STREAM', None)
        self.argv = [DAEMON, '--sysfs-root=/sys', f'--proc-root={proc}', f'--policy={policy}',
                     f'--policy-dir={empty}', f'--vendor-policy-dir={empty}', '--log-target=stderr',
                     f'--event-source={source}', f'--netdev-fake={netdev}', '--kernel-release=6.1.0',
                     *extra_args]
        self.proc = subprocess.Popen(self.argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        os.set_blocking(self.proc.stderr.fileno(), False)

    def _read(self, timeout):
        r, _, _ = select.select([self.proc.stderr], [], [], timeout)
        if not r:
            return False
        data = os.read(self.proc.stderr.fileno(), 65536)
        if not data:
            return None  # EOF
        data = self._partial + data
        *complete, self._partial = data.split(b'\n')
        for raw in complete:
            line = raw.decode('utf-8', 'replace')
            self.lines.append(line)
            rec = parse_record(line)
            if rec is not None:
                self.records.append(rec)
        return True

    def log(self):
        return '\n'.join(self.lines)

    def wait_for(self, predicate, what, start=0):
        '''Wait until a record from index `start` on satisfies `predicate`; return its index.'''
        deadline = time.monotonic() + TIMEOUT
        while True:
            for i in range(start, len(self.records)):
                if predicate(self.records[i]):
                    return i
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f'timed out waiting for {what}; daemon output:\n{self.log()}')
            if self._read(min(left, 0.5)) is None:
                # stderr closed: the daemon is gone.
                raise AssertionError(f'daemon exited ({self.proc.wait()}) while waiting for {what}; '
                                     f'output:\n{self.log()}')

    def wait_started(self):
        return self.wait_for(lambda r: r['MESSAGE_ID'] == MID_STARTED, 'the started record')

    def drain(self):
        while self._read(0):
            pass

    def stop(self):
        '''SIGTERM; returns the exit status.'''
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + TIMEOUT
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.2)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f'daemon did not exit on SIGTERM; output:\n{self.log()}')
        while self._read(0):
            pass
        self.proc.stderr.close()
        sanitizer = [line for line in self.lines if 'Sanitizer' in line or 'runtime error:' in line]
        if sanitizer:
            raise AssertionError(f'sanitizer report from the daemon:\n{self.log()}')
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stderr.close()


def is_violation(device, driver=None):
    return lambda r: (r['MESSAGE_ID'] == MID_VIOLATION and r.get('DEVICE') == device and
                      (driver is None or r.get('DRIVER') == driver))


# ---- the tests ----

@unittest.skipUnless(DAEMON and os.access(DAEMON, os.X_OK), 'DMA_OWNERD does not name the daemon binary')
class TestDaemon(unittest.TestCase):
    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix='dma-ownerd-it-')
        self.bed = build_topology()
        self.writes = WriteCounter()
        for address in self.bed.devpaths:
            self.writes.watch(self.bed.path(self.bed.dev(address, 'driver_override')))
        self.writes.watch(self.bed.path('bus/pci/drivers_probe'))
        for d in DRIVERS:
            for f in ('bind', 'unbind', 'new_id', 'remove_id'):
                self.writes.watch(self.bed.path(f'bus/pci/drivers/{d}/{f}'))
        self.daemon = None

    def tearDown(self):
        if self.daemon:
            self.daemon.kill()
        self.writes.close()
        del self.bed
        shutil.rmtree(self.workdir, ignore_errors=True)

    def write_policy(self, mode='enforce', text=None):
        path = os.path.join(self.workdir, 'policy.yaml')
        with open(path, 'w') as f:
            f.write(text if text is not None else POLICY.format(mode=mode))
        return path

    def start(self, mode='enforce', source='kernel'):
        self.policy = self.write_policy(mode)
        self.daemon = Daemon(self.bed, self.policy, self.workdir, source)
        self.daemon.wait_started()

    def override(self, address):
        return self.bed.read(self.bed.dev(address, 'driver_override'))

    def writes_of(self, rel):
        return self.writes.count(self.bed.path(rel))

    def reset_sysfs_files(self, *addresses):
        '''Empty the shared attribute files and unset the overrides, then start counting afresh.'''
        self.bed.write('bus/pci/drivers_probe', '')
        for d in DRIVERS:
            self.bed.write(f'bus/pci/drivers/{d}/unbind', '')
            self.bed.write(f'bus/pci/drivers/{d}/bind', '')
        for a in addresses:
            self.bed.write(self.bed.dev(a, 'driver_override'), '(null)\n')
        self.writes.reset()

    def actions_for(self, device, start, end=None):
        recs = self.daemon.records[start:end]
        return [(r.get('ACTION'), r.get('RESULT')) for r in recs
                if r['MESSAGE_ID'] in (MID_ACTION_DONE, MID_ACTION_FAILED) and r.get('DEVICE') == device]

    def bind_host_driver(self, address, driver='e1000'):
        '''A host driver binds (as after a manual bind or a probe): the link, then the uevent.'''
        self.bed.set_driver(address, driver)
        mark = len(self.daemon.records)
        self.bed.uevent(address, 'bind', driver)
        return mark

    def sentinel_barrier(self, dry_run):
        '''Make the sentinel device violate and wait for it: every uevent sent before it has been handled. Returns
        the index of the violation record.'''
        mark = self.bind_host_driver(SENTINEL)
        i = self.daemon.wait_for(is_violation(SENTINEL, 'e1000'), 'the sentinel violation', mark)
        self.assertEqual(self.daemon.records[i].get('DRY_RUN'), '1' if dry_run else '0')
        if not dry_run:
            # The record comes before the writes: wait for the last one before touching the device again.
            self.daemon.wait_for(lambda r: r['MESSAGE_ID'] in (MID_ACTION_DONE, MID_ACTION_FAILED) and
                                 r.get('DEVICE') == SENTINEL and r.get('ACTION') == 'probe', 'the sentinel probe', i)
        # Undo it behind the daemon's back (the kernel would, after the probe): the next barrier binds it again.
        self.bed.set_driver(SENTINEL, None)
        return i

    # (a), (c), (d), (e), (f) in one daemon run, in enforce mode, with the kernel event source.
    def test_enforce(self):
        self.start('enforce', 'kernel')
        d = self.daemon

        # Start-up: both driverless reserved devices got their override; the unreserved group was not touched.
        self.assertEqual(self.override(NIC), 'vfio-pci')
        self.assertEqual(self.override(SENTINEL), 'vfio-pci')
        self.assertEqual(self.override(BRIDGE), '(null)\n')
        self.assertEqual(self.override(ENDPOINT), '(null)\n')
        self.assertEqual(self.writes_of('bus/pci/drivers/e1000e/unbind'), 0)
        self.assertEqual(self.writes_of('bus/pci/drivers/pcieport/unbind'), 0)

        # (a) a host driver binds to the reserved device: override, unbind, probe.
        self.reset_sysfs_files(NIC)
        mark = self.bind_host_driver(NIC, 'e1000')
        i = d.wait_for(is_violation(NIC, 'e1000'), 'the violation record', mark)
        v = d.records[i]
        self.assertEqual(v.get('DRY_RUN'), '0', v)
        self.assertEqual(v.get('RULE'), f'{self.policy}:{POLICY_NIC_LINE}', v)
        self.assertEqual(v.get('GROUP'), '3', v)
        self.assertEqual(v.get('MODE'), 'enforce', v)
        d.wait_for(lambda r: r['MESSAGE_ID'] in (MID_ACTION_DONE, MID_ACTION_FAILED) and r.get('DEVICE') == NIC
                   and r.get('ACTION') == 'probe', 'the probe action record', i)
        self.assertEqual(self.actions_for(NIC, i), [('set-override', 'ok'), ('unbind', 'ok'), ('probe', 'ok')])
        self.assertEqual(self.override(NIC), 'vfio-pci')
        self.assertEqual(self.bed.read('bus/pci/drivers/e1000/unbind'), NIC)
        self.assertEqual(self.bed.read('bus/pci/drivers_probe'), NIC)
        self.assertEqual(self.writes_of(self.bed.dev(NIC, 'driver_override')), 1)
        self.assertEqual(self.writes_of('bus/pci/drivers/e1000/unbind'), 1)
        self.assertEqual(self.writes_of('bus/pci/drivers_probe'), 1)
        self.assertEqual(self.writes.total(), 3)

        # (d) the kernel carries it out: e1000 leaves (unbind uevent), then vfio-pci binds (bind uevent). The
        # device is then where the policy wants it: nothing more is written, no loop of unbinds and probes. Each
        # step is followed by a barrier (the sentinel's violation, which writes one probe and one unbind).
        self.reset_sysfs_files()
        mark = len(d.records)
        self.bed.set_driver(NIC, None)
        self.bed.uevent(NIC, 'unbind', 'e1000')
        barrier = self.sentinel_barrier(False)
        self.assertEqual(self.actions_for(NIC, mark, barrier), [], d.log())
        self.bed.set_driver(NIC, 'vfio-pci')
        self.bed.uevent(NIC, 'bind', 'vfio-pci')
        barrier = self.sentinel_barrier(False)
        self.assertEqual(self.actions_for(NIC, mark), [], d.log())
        self.assertEqual([r for r in d.records[mark:] if r['MESSAGE_ID'] == MID_VIOLATION and r.get('DEVICE') == NIC],
                         [])
        self.assertEqual(self.writes_of(self.bed.dev(NIC, 'driver_override')), 0)
        self.assertEqual(self.writes_of('bus/pci/drivers/vfio-pci/unbind'), 0)
        self.assertEqual(self.writes_of('bus/pci/drivers_probe'), 2)
        self.assertEqual(self.bed.read('bus/pci/drivers_probe'), SENTINEL)
        self.assertEqual(self.writes_of("bus/pci/drivers/e1000/unbind"), 2, d.log())
        self.assertEqual(self.writes.total(), 4 + self.writes_of(self.bed.dev(SENTINEL, 'driver_override')))

        # (c) a new reserved device appears, driverless: override and probe.
        self.reset_sysfs_files()
        self.bed.add(HOTPLUG, 0x1af4, 0x1041, 0x020000, 5)
        self.writes.watch(self.bed.path(self.bed.dev(HOTPLUG, 'driver_override')))
        mark = len(d.records)
        self.bed.uevent(HOTPLUG, 'add')
        d.wait_for(lambda r: r['MESSAGE_ID'] in (MID_ACTION_DONE, MID_ACTION_FAILED) and r.get('DEVICE') == HOTPLUG
                   and r.get('ACTION') == 'probe', 'the probe of the new device', mark)
        self.assertEqual(self.actions_for(HOTPLUG, mark), [('set-override', 'ok'), ('probe', 'ok')])
        reserve = [r for r in d.records[mark:] if r['MESSAGE_ID'] == MID_DECISION and r.get('DEVICE') == HOTPLUG]
        self.assertEqual(len(reserve), 1, d.log())
        self.assertEqual(reserve[0].get('RULE_NAME'), 'hotplug')
        self.assertEqual(self.override(HOTPLUG), 'vfio-pci')
        self.assertEqual(self.bed.read('bus/pci/drivers_probe'), HOTPLUG)
        self.assertEqual(self.writes_of(self.bed.dev(HOTPLUG, 'driver_override')), 1)
        self.assertEqual(self.writes_of('bus/pci/drivers_probe'), 1)

        # (e) SIGHUP with a broken policy: rejected, the old one stays in force.
        self.write_policy(text='mode: [enforce\nreservations: 17\n')
        mark = len(d.records)
        d.proc.send_signal(signal.SIGHUP)
        i = d.wait_for(lambda r: r['MESSAGE_ID'] == MID_POLICY_REJECTED and r.get('KEPT_PREVIOUS') == '1',
                       'the policy-rejected summary', mark)
        self.assertEqual([r for r in d.records[mark:i] if r['MESSAGE_ID'] == MID_POLICY_LOADED], [])
        self.reset_sysfs_files(NIC)
        mark = self.bind_host_driver(NIC, 'e1000')
        i = d.wait_for(is_violation(NIC, 'e1000'), 'a violation after the rejected reload', mark)
        self.assertEqual(d.records[i].get('DRY_RUN'), '0')
        d.wait_for(lambda r: r.get('DEVICE') == NIC and r.get('ACTION') == 'probe', 'the probe', i)
        self.assertEqual(self.actions_for(NIC, i), [('set-override', 'ok'), ('unbind', 'ok'), ('probe', 'ok')])
        self.assertEqual(self.bed.read('bus/pci/drivers/e1000/unbind'), NIC)
        self.assertEqual(self.bed.read('bus/pci/drivers_probe'), NIC)

        # (f) SIGTERM: a clean exit.
        self.assertEqual(d.stop(), 0, d.log())
        self.daemon = None
        self.assertEqual([r for r in d.records if r['MESSAGE_ID'] == MID_ACTION_FAILED], [], d.log())

    # (b) audit mode, with the udev event source: the same events, everything decided, nothing written, ever.
    def test_audit(self):
        self.writes.reset()
        self.start('audit', 'udev')
        d = self.daemon

        self.assertEqual(self.override(NIC), '(null)\n')
        self.assertEqual(self.override(SENTINEL), '(null)\n')
        start_reserves = [r for r in d.records if r['MESSAGE_ID'] == MID_DECISION and r.get('DEVICE') == NIC]
        self.assertEqual(len(start_reserves), 1, d.log())
        self.assertEqual(start_reserves[0].get('DRY_RUN'), '1')

        mark = self.bind_host_driver(NIC, 'e1000')
        i = d.wait_for(is_violation(NIC, 'e1000'), 'the violation record', mark)
        v = d.records[i]
        self.assertEqual(v.get('DRY_RUN'), '1', v)
        self.assertEqual(v.get('MODE'), 'audit', v)
        self.assertEqual(v.get('RULE'), f'{self.policy}:{POLICY_NIC_LINE}', v)

        # Hot-plug and unbind in audit mode: decided, not written.
        self.bed.add(HOTPLUG, 0x1af4, 0x1041, 0x020000, 5)
        self.writes.watch(self.bed.path(self.bed.dev(HOTPLUG, 'driver_override')))
        self.bed.uevent(HOTPLUG, 'add')
        self.bed.set_driver(NIC, None)
        self.bed.uevent(NIC, 'unbind', 'e1000')
        barrier = self.sentinel_barrier(True)
        hot = [r for r in d.records[i:barrier] if r['MESSAGE_ID'] == MID_DECISION and r.get('DEVICE') == HOTPLUG]
        self.assertEqual(len(hot), 1, d.log())
        self.assertEqual(hot[0].get('DRY_RUN'), '1')

        self.assertEqual(self.writes.total(), 0, self.writes.counts)
        self.assertEqual(self.override(NIC), '(null)\n')
        self.assertEqual(self.override(HOTPLUG), '(null)\n')
        self.assertEqual(self.bed.read('bus/pci/drivers/e1000/unbind'), '')
        self.assertEqual(self.bed.read('bus/pci/drivers_probe'), '')
        self.assertEqual([r for r in d.records if r['MESSAGE_ID'] in (MID_ACTION_DONE, MID_ACTION_FAILED)], [])

        self.assertEqual(d.stop(), 0, d.log())
        self.daemon = None

    # The auto event source resolves to "kernel" without udevd; uevents of a group nobody reserved, in a row, are
    # handled without a record or a write. (Rows stay shorter than net.unix.max_dgram_qlen, often 10: the testbed's
    # sender drops what does not fit in the daemon's socket.)
    def test_auto_source_unreserved(self):
        self.start('enforce', 'auto')
        d = self.daemon
        self.reset_sysfs_files()
        mark = len(d.records)
        for _ in range(2):
            self.bed.uevent(ENDPOINT, 'change')
            self.bed.uevent(BRIDGE, 'change')
        self.bed.set_driver(ENDPOINT, None)
        self.bed.uevent(ENDPOINT, 'unbind', 'e1000e')
        self.bed.set_driver(ENDPOINT, 'e1000')
        self.bed.uevent(ENDPOINT, 'bind', 'e1000')
        barrier = self.sentinel_barrier(False)
        self.assertEqual([r for r in d.records[mark:barrier] if r.get('DEVICE') in (BRIDGE, ENDPOINT)], [])
        for a in (BRIDGE, ENDPOINT):
            self.assertEqual(self.writes_of(self.bed.dev(a, 'driver_override')), 0)
        for drv in ('e1000e', 'pcieport'):
            self.assertEqual(self.writes_of(f'bus/pci/drivers/{drv}/unbind'), 0)
        self.assertIn('listening for kernel uevents', d.log())
        self.assertEqual(d.stop(), 0, d.log())
        self.daemon = None

    # A policy that does not parse at start: exit 78, and a record saying why.
    def test_bad_policy_at_start(self):
        policy = self.write_policy(text='mode: sometimes\n')
        self.daemon = Daemon(self.bed, policy, self.workdir, 'kernel')
        deadline = time.monotonic() + TIMEOUT
        while self.daemon.proc.poll() is None and time.monotonic() < deadline:
            self.daemon._read(0.2)
        self.daemon.drain()
        self.assertEqual(self.daemon.proc.poll(), 78, self.daemon.log())
        self.assertTrue(any(r['MESSAGE_ID'] == MID_POLICY_REJECTED for r in self.daemon.records), self.daemon.log())
        self.assertEqual(self.writes.total(), 0)


if __name__ == '__main__':
    unittest.main(verbosity=2)

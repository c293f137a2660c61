# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared by the hostile tests: a sysfs tree in a temporary folder (laid out as tests/lib/sysfs-tree.c lays it
out), a private dbus-daemon (optionally with python-dbusmock's polkitd), and the real dma-ownerd on them.

No kernel acts on the tree: driver links change only when a test changes them. The daemon's writes land in the
tree's regular files, which the tests read back."""

import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from testbus import start_bus  # noqa: E402

try:
    import gi
    gi.require_version('Gio', '2.0')
    from gi.repository import Gio, GLib
except (ImportError, ValueError) as e:
    print(f'SKIP: python3-gi missing: {e}')
    sys.exit(77)

DAEMON = os.environ.get('DMA_OWNERD')
if not DAEMON or not os.access(DAEMON, os.X_OK):
    print('SKIP: DMA_OWNERD does not name the daemon binary')
    sys.exit(77)
for tool in ('dbus-daemon',):
    if not shutil.which(tool):
        print(f'SKIP: {tool} not installed')
        sys.exit(77)

NAME = 'org.dmaownerd1'
PATH = '/org/dmaownerd1'
MANAGER = 'org.dmaownerd1.Manager'
GROUP = 'org.dmaownerd1.Group'
DEVICE = 'org.dmaownerd1.Device'
PROPS = 'org.freedesktop.DBus.Properties'
TIMEOUT = 20.0
UNITS = os.environ.get('UNITS_DIR', os.path.join(os.path.dirname(__file__), '..', '..', 'units'))


def device_path(address):
    return PATH + '/device/' + ''.join(c if c.isalnum() and not (i == 0 and c.isdigit()) else f'_{ord(c):02x}'
                                       for i, c in enumerate(address))


def sanitizer_env(env):
    env = dict(env)
    # A small quarantine: ASan's default (256 MiB of freed memory kept back) would hide the daemon's own bound.
    env.setdefault('ASAN_OPTIONS', 'detect_leaks=1:abort_on_error=1:quarantine_size_mb=8')
    env.setdefault('UBSAN_OPTIONS', 'print_stacktrace=1:halt_on_error=1')
    return env


# ---- the tree ----

def config_space(vendor, device, cls, header_type):
    c = bytearray(64)
    struct.pack_into('<HH', c, 0, vendor, device)
    c[9], c[10], c[11] = cls & 0xff, (cls >> 8) & 0xff, (cls >> 16) & 0xff
    c[0x0e] = header_type
    return bytes(c)


class Tree:
    DEVICES = 'devices/pci0000:00'

    def __init__(self, parent):
        self.root = os.path.join(parent, 'sys')
        for d in (self.DEVICES, 'bus/pci/devices', 'bus/pci/drivers', 'kernel/iommu_groups'):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        self.write('bus/pci/drivers_probe', '')

    def p(self, rel):
        return os.path.join(self.root, rel)

    def write(self, rel, contents, mode='w'):
        path = self.p(rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, mode) as f:
            f.write(contents)

    def read(self, rel):
        with open(self.p(rel)) as f:
            return f.read()

    def ensure_driver(self, driver):
        for f in ('bind', 'unbind', 'new_id', 'remove_id'):
            if not os.path.exists(self.p(f'bus/pci/drivers/{driver}/{f}')):
                self.write(f'bus/pci/drivers/{driver}/{f}', '')

    def add(self, address, vendor=0x8086, device=0x10d3, cls=0x020000, group=None, driver=None, header_type=0,
            override=None):
        dev = f'{self.DEVICES}/{address}'
        os.makedirs(self.p(dev))
        for name, value in (('vendor', f'0x{vendor:04x}\n'), ('device', f'0x{device:04x}\n'),
                            ('subsystem_vendor', f'0x{vendor:04x}\n'), ('subsystem_device', '0x0001\n'),
                            ('class', f'0x{cls:06x}\n'), ('driver_override', f'{override or "(null)"}\n')):
            self.write(f'{dev}/{name}', value)
        self.write(f'{dev}/config', config_space(vendor, device, cls, header_type), 'wb')
        if group is not None:
            os.makedirs(self.p(f'kernel/iommu_groups/{group}/devices'), exist_ok=True)
            os.symlink(f'../../../kernel/iommu_groups/{group}', self.p(f'{dev}/iommu_group'))
            os.symlink(f'../../../../{dev}', self.p(f'kernel/iommu_groups/{group}/devices/{address}'))
        self.set_driver(address, driver)
        os.symlink(f'../../../{dev}', self.p(f'bus/pci/devices/{address}'))

    def set_driver(self, address, driver):
        link = self.p(f'{self.DEVICES}/{address}/driver')
        if os.path.islink(link):
            old = os.path.basename(os.readlink(link))
            os.unlink(link)
            back = self.p(f'bus/pci/drivers/{old}/{address}')
            if os.path.islink(back):
                os.unlink(back)
        if driver:
            self.ensure_driver(driver)
            os.symlink(f'../../../bus/pci/drivers/{driver}', link)
            os.symlink(f'../../../../{self.DEVICES}/{address}', self.p(f'bus/pci/drivers/{driver}/{address}'))

    def override(self, address):
        return self.read(f'bus/pci/devices/{address}/driver_override')


# The group test-crash and test-faults assign: three driverless functions of one GPU in group 5, and beside them a
# NIC on its host driver in group 6.
ASSIGN_FUNCTIONS = ('0000:00:05.0', '0000:00:05.1', '0000:00:05.2')
ASSIGN_NIC = '0000:00:06.0'


def add_assign_topology(e):
    for a in ASSIGN_FUNCTIONS:
        e.tree.add(a, vendor=0x10de, device=0x1db6, cls=0x030200, group=5)
    e.tree.add(ASSIGN_NIC, group=6, driver='e1000e')


# ---- the bus ----


class Env:
    '''A work folder with a tree, a private bus and (started on demand) the daemon.'''

    def __init__(self, polkit=False, bus_extra=''):
        self.tmp = tempfile.mkdtemp(prefix='dma-ownerd-hostile-')
        os.chmod(self.tmp, 0o755)
        self.procs = []
        self.daemon = None
        self.tree = Tree(self.tmp)
        for d in ('proc', 'policy.d', 'vendor.d', 'run'):
            os.makedirs(os.path.join(self.tmp, d))
        self.proc_root = os.path.join(self.tmp, 'proc')
        self.policy_dir = os.path.join(self.tmp, 'policy.d')
        self.vendor_dir = os.path.join(self.tmp, 'vendor.d')
        self.runtime_dir = os.path.join(self.tmp, 'run', 'dma-ownerd')
        self.policy = os.path.join(self.tmp, 'policy.yaml')
        self.set_policy('mode: enforce\non-violation: unbind\nnetwork-protection: false\n')
        self.netdev = os.path.join(self.tmp, 'netdev')
        open(self.netdev, 'w').close()

        bus, self.address = start_bus(self.tmp, os.path.abspath(os.path.join(UNITS, 'org.dmaownerd1.conf')),
                                      bus_extra)
        self.procs.append(bus)
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address)
        self.env.pop('DBUS_SESSION_BUS_ADDRESS', None)
        self.env.pop('NOTIFY_SOCKET', None)
        self.env.pop('JOURNAL_STREAM', None)
        self.conn = self.connect()
        if polkit:
            self.procs.append(subprocess.Popen(['/usr/bin/python3', '-m', 'dbusmock', '--system', '--template',
                                                'polkitd'], env=self.env, stdout=subprocess.DEVNULL))
            self.wait_for_name('org.freedesktop.PolicyKit1')

    def connect(self):
        return Gio.DBusConnection.new_for_address_sync(
            self.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)

    def set_policy(self, text):
        with open(self.policy, 'w') as f:
            f.write(text)

    def name_has_owner(self, name):
        v = self.conn.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                                'NameHasOwner', GLib.Variant('(s)', (name,)), None, 0, -1, None)
        return v.unpack()[0]

    def wait_for_name(self, name, proc=None):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise AssertionError(f'the daemon exited ({proc.returncode}) before taking {name}:\n{self.log()}')
            if self.name_has_owner(name):
                return
            time.sleep(0.05)
        raise AssertionError(f'{name} never appeared\n{self.log()}')

    def start(self, faults=None, extra=(), runtime=True, wait=True):
        assert self.daemon is None or self.daemon.poll() is not None
        env = sanitizer_env(self.env)
        if faults:
            env['DMA_OWNERD_TEST_FAULTS'] = faults
        else:
            env.pop('DMA_OWNERD_TEST_FAULTS', None)
        self.logfile = os.path.join(self.tmp, f'daemon-{len(self.procs)}.log')
        argv = [DAEMON, f'--sysfs-root={self.tree.root}', f'--proc-root={self.proc_root}',
                f'--policy={self.policy}', f'--policy-dir={self.policy_dir}', f'--vendor-policy-dir={self.vendor_dir}',
                '--log-target=stderr', '--event-source=kernel', f'--netdev-fake={self.netdev}',
                '--kernel-release=6.1.0', *extra]
        if runtime:
            argv.append(f'--runtime-dir={self.runtime_dir}')
        with open(self.logfile, 'w') as log:
            self.daemon = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.procs.append(self.daemon)
        if wait:
            self.wait_for_name(NAME, self.daemon)
        return self.daemon

    def log(self):
        try:
            with open(self.logfile, errors='replace') as f:
                return f.read()
        except (AttributeError, OSError):
            return ''

    def stop(self, sig=signal.SIGTERM):
        '''Stop the daemon with `sig`; returns its exit status (negative: the signal).'''
        d = self.daemon
        if d.poll() is None:
            d.send_signal(sig)
        try:
            d.wait(TIMEOUT * 3)
        except subprocess.TimeoutExpired:
            d.kill()
            d.wait()
            raise AssertionError(f'the daemon did not exit on {sig}:\n{self.log()}')
        self.check_sanitizer()
        # The name leaves with the connection; wait so a restart can take it again.
        deadline = time.monotonic() + TIMEOUT
        while self.name_has_owner(NAME) and time.monotonic() < deadline:
            time.sleep(0.02)
        return d.returncode

    def check_sanitizer(self):
        text = self.log()
        bad = [line for line in text.splitlines() if 'Sanitizer' in line or 'runtime error:' in line]
        if bad:
            raise AssertionError(f'sanitizer report from the daemon:\n{text}')

    def wait_exit(self):
        try:
            self.daemon.wait(TIMEOUT * 3)
        except subprocess.TimeoutExpired:
            raise AssertionError(f'the daemon did not exit:\n{self.log()}')
        return self.daemon.returncode

    def close(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- calls ----
    def call(self, method, signature=None, args=(), path=PATH, iface=MANAGER, conn=None, timeout_ms=60000):
        '''(result, D-Bus error name or None, message)'''
        try:
            v = (conn or self.conn).call_sync(NAME, path, iface, method,
                                              GLib.Variant(f'({signature})', tuple(args)) if signature else None,
                                              None, 0, timeout_ms, None)
            return v.unpack(), None, None
        except GLib.Error as e:
            return None, Gio.DBusError.get_remote_error(e), e.message

    def ok(self, method, signature=None, args=(), **kw):
        res, err, msg = self.call(method, signature, args, **kw)
        if err:
            raise AssertionError(f'{method}{args}: {err}: {msg}\n{self.log()}')
        return res

    def prop(self, path, iface, name):
        return self.ok('Get', 'ss', (iface, name), path=path, iface=PROPS)[0]

    def all_props(self, path, iface):
        return self.ok('GetAll', 's', (iface,), path=path, iface=PROPS)[0]

    def dump(self, skip=('Pinned',)):
        '''Everything the daemon says about the kernel state: every device's and group's properties.'''
        out = {}
        for address, p in self.ok('ListDevices')[0]:
            out[address] = {k: v for k, v in self.all_props(p, DEVICE).items() if k not in skip}
        for number, p in self.ok('ListGroups')[0]:
            props = self.all_props(p, GROUP)
            props.pop('Holders', None)
            out[f'group {number}'] = props
        return out

    def vm(self, key='VmRSS'):
        with open(f'/proc/{self.daemon.pid}/status') as f:
            for line in f:
                if line.startswith(key + ':'):
                    return int(line.split()[1])
        raise AssertionError(f'{key} not in /proc/{self.daemon.pid}/status')

    def runtime_state(self):
        try:
            with open(os.path.join(self.runtime_dir, 'state')) as f:
                return f.read()
        except FileNotFoundError:
            return None


def eq(actual, expected, what=''):
    if actual != expected:
        raise AssertionError(f'{what}: expected {expected!r}, got {actual!r}')


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def run(tests, make_env=None):
    '''Run test functions, each on a fresh Env; print ok/FAIL per test and return the exit status.'''
    failed = 0
    for t in tests:
        e = (make_env or Env)()
        try:
            t(e)
            if e.daemon is not None and e.daemon.poll() is None:
                e.stop()
            print(f'ok   {t.__name__}', flush=True)
        except Exception:
            import traceback
            failed += 1
            print(f'FAIL {t.__name__}', flush=True)
            traceback.print_exc()
            print('--- daemon log ---\n' + e.log()[-20000:])
        finally:
            e.close()
    print(f'{len(tests) - failed} passed, {failed} failed')
    return 1 if failed else 0

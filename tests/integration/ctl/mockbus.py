# SPDX-License-Identifier: LGPL-2.1-or-later
"""A private dbus-daemon with mock-dmaownerd.py on it, for the tests of dma-ownerctl in this folder."""

import os
import shutil
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))

CONFIG = '''<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
'''


def missing(programs=('dbus-daemon',)):
    '''Why the mock cannot run here (a program or a Python module missing), or None.'''
    for p in programs:
        if not shutil.which(p):
            return '%s missing' % p
    try:
        import dbus  # noqa: F401
        from gi.repository import GLib  # noqa: F401
    except ImportError as e:
        return str(e)
    return None


class MockBus:
    '''Starts the bus in `tmp` and the mock on it; `address` is the bus, `mock` the mock's process (None once
    stop_mock() ended it). Raises RuntimeError when the mock does not come up.'''

    def __init__(self, tmp):
        socket = os.path.join(tmp, 'bus')
        config = os.path.join(tmp, 'bus.conf')
        with open(config, 'w') as f:
            f.write(CONFIG % socket)
        self.address = 'unix:path=' + socket
        self.mock = None
        self.bus = subprocess.Popen(['dbus-daemon', '--config-file=' + config, '--nofork', '--print-address'],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            self.bus.stdout.readline()  # printed once the bus listens
            self.mock = subprocess.Popen(['/usr/bin/python3', os.path.join(HERE, 'mock-dmaownerd.py'),
                                          self.address], stdout=subprocess.PIPE, text=True)
            if self.mock.stdout.readline().strip() != 'READY':
                raise RuntimeError('mock did not start')
        except BaseException:
            self.close()
            raise

    def stop_mock(self):
        if self.mock and self.mock.poll() is None:
            self.mock.terminate()
            self.mock.wait(timeout=30)
        self.mock = None

    def close(self):
        self.stop_mock()
        if self.bus.poll() is None:
            self.bus.terminate()
            self.bus.wait(timeout=30)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

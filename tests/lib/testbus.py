# SPDX-License-Identifier: LGPL-2.1-or-later
"""A private system-like bus for the tests that run the real daemon (tests/integration/bus, tests/hostile)."""

import os
import subprocess

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'data')


def bus_config(socket, policy):
    """The shared system-bus-like configuration of tests/data/system-bus.conf.in."""
    with open(os.path.join(DATA, 'system-bus.conf.in')) as f:
        return f.read().replace('@SOCKET@', socket).replace('@POLICY@', policy)


def start_bus(tmp, policy, extra=''):
    """dbus-daemon on TMP/bus.sock with the daemon's D-Bus POLICY file and EXTRA configuration (limits, say); the
    socket open to every user (the tests call as nobody too). Returns (process, address)."""
    socket = os.path.join(tmp, 'bus.sock')
    config = os.path.join(tmp, 'bus.conf')
    with open(config, 'w') as f:
        f.write(bus_config(socket, policy).replace('</busconfig>', extra + '</busconfig>'))
    bus = subprocess.Popen(['dbus-daemon', '--nofork', '--nopidfile', f'--config-file={config}',
                            '--print-address=1'], stdout=subprocess.PIPE, text=True)
    address = bus.stdout.readline().strip()
    assert address.startswith('unix:'), address
    os.chmod(socket, 0o777)
    return bus, address

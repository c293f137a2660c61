#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A MOCK of the org.dmaownerd1 D-Bus API, for testing dma-ownerctl alone: a fixed topology served from memory,
# nothing read from or written to sysfs. It is not the daemon; the real-daemon test belongs to the daemon side.
# Usage: mock-dmaownerd.py BUS_ADDRESS   (prints "READY" on stdout once the name is owned)
#
# Besides the API it exposes org.dmaownerd1.Mock on /org/dmaownerd1 so the test can trigger signals and read back
# which mutating calls arrived:
#   EmitViolation(), EmitPropertyChange(), Calls() -> as

import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

BUS_NAME = 'org.dmaownerd1'
MANAGER_PATH = '/org/dmaownerd1'
MANAGER_IFACE = 'org.dmaownerd1.Manager'
GROUP_IFACE = 'org.dmaownerd1.Group'
DEVICE_IFACE = 'org.dmaownerd1.Device'
MOCK_IFACE = 'org.dmaownerd1.Mock'
PROPS_IFACE = 'org.freedesktop.DBus.Properties'
ERR = 'org.dmaownerd1.Error.'


def path_encode(prefix, label):
    # Same escaping as sd_bus_path_encode(): everything but [A-Za-z0-9] (and a leading digit) becomes _XX.
    out = []
    for i, c in enumerate(label):
        if c.isascii() and (c.isalpha() or (i > 0 and c.isdigit())):
            out.append(c)
        else:
            out.append('_%02x' % ord(c))
    return prefix + '/' + ''.join(out)


def is_address(s):
    import re
    return re.fullmatch(r'[0-9a-f]{4}:[0-9a-f]{2}:[01][0-9a-f]\.[0-7]', s) is not None


class BusError(dbus.DBusException):
    def __init__(self, name, message):
        super().__init__(message)
        self._dbus_error_name = name


class PropertiesObject(dbus.service.Object):
    iface = None

    def __init__(self, conn, path):
        super().__init__(conn, path)
        self.props = {}

    @dbus.service.method(PROPS_IFACE, in_signature='ss', out_signature='v')
    def Get(self, interface, name):
        if interface != self.iface or name not in self.props:
            raise BusError('org.freedesktop.DBus.Error.UnknownProperty', 'Unknown property %s' % name)
        return self.props[name]

    @dbus.service.method(PROPS_IFACE, in_signature='s', out_signature='a{sv}')
    def GetAll(self, interface):
        if interface not in (self.iface, ''):
            return dbus.Dictionary({}, signature='sv')
        return dbus.Dictionary(self.props, signature='sv')

    @dbus.service.signal(PROPS_IFACE, signature='sa{sv}as')
    def PropertiesChanged(self, interface, changed, invalidated):
        pass

    def set(self, **changes):
        self.props.update(changes)
        self.PropertiesChanged(self.iface, dbus.Dictionary(changes, signature='sv'), dbus.Array([], signature='s'))


class Device(PropertiesObject):
    iface = DEVICE_IFACE

    def __init__(self, conn, address, vendor, device, klass, driver, group, netifs=(), bridge=False, override=''):
        super().__init__(conn, path_encode('/org/dmaownerd1/device', address))
        self.address = address
        self.props = {
            'Address': dbus.String(address),
            'VendorId': dbus.UInt16(vendor),
            'DeviceId': dbus.UInt16(device),
            'SubsystemVendorId': dbus.UInt16(vendor),
            'SubsystemDeviceId': dbus.UInt16(0x1234),
            'Class': dbus.UInt32(klass),
            'Driver': dbus.String(driver),
            'DriverOverride': dbus.String(override),
            'DriverManagesDma': dbus.Boolean(driver in ('vfio-pci', 'pci-stub', 'pcieport')),
            'Group': dbus.ObjectPath('/org/dmaownerd1/group/%d' % group),
            'NetworkInterfaces': dbus.Array(netifs, signature='s'),
            'IsBridge': dbus.Boolean(bridge),
            'Pinned': dbus.Boolean(False),
        }


class Group(PropertiesObject):
    iface = GROUP_IFACE

    def __init__(self, conn, number, devices, owner, reserved, viable, blockers=(), holders=()):
        super().__init__(conn, '/org/dmaownerd1/group/%d' % number)
        self.number = number
        self.devices = devices
        self.props = {
            'Number': dbus.UInt32(number),
            'Devices': dbus.Array([dbus.ObjectPath(d.__dbus_object_path__) for d in devices], signature='o'),
            'Owner': dbus.String(owner),
            'Holders': dbus.Array([dbus.Struct((dbus.UInt32(p), c, u), signature='uss') for p, c, u in holders],
                                  signature='(uss)'),
            'Reserved': dbus.Boolean(reserved),
            'Viable': dbus.Boolean(viable),
            'Blockers': dbus.Array(blockers, signature='s'),
        }


class Manager(PropertiesObject):
    iface = MANAGER_IFACE

    def __init__(self, conn):
        super().__init__(conn, MANAGER_PATH)
        self.calls = []
        self.props = {
            'Version': dbus.String('0.1.0-mock'),
            'Mode': dbus.String('enforce'),
            'KernelDmaOwnership': dbus.Boolean(True),
            'PolicyFiles': dbus.Array(['/etc/dma-ownerd/policy.yaml'], signature='s'),
            'PolicyError': dbus.String(''),
            'Violations': dbus.UInt64(0),
        }
        d = {}
        d['00:1c.0'] = Device(conn, '0000:00:1c.0', 0x8086, 0xa110, 0x060400, 'pcieport', 1, bridge=True)
        d['01:00.0'] = Device(conn, '0000:01:00.0', 0x10de, 0x1b80, 0x030000, 'vfio-pci', 12, override='vfio-pci')
        d['01:00.1'] = Device(conn, '0000:01:00.1', 0x10de, 0x10f0, 0x040300, 'snd_hda_intel', 12)
        d['02:00.0'] = Device(conn, '0000:02:00.0', 0x8086, 0x10d3, 0x020000, 'e1000e', 13, netifs=['eth0'])
        d['03:00.0'] = Device(conn, '0000:03:00.0', 0x144d, 0xa808, 0x010802, 'nvme', 14)
        self.devices = {dev.address: dev for dev in d.values()}
        groups = [
            Group(conn, 1, [d['00:1c.0']], 'kernel', False, True),
            # Sent out of order on purpose: the CLI sorts.
            Group(conn, 13, [d['02:00.0']], 'kernel', False, False,
                  blockers=['0000:02:00.0: network interface eth0 is up and carries an address']),
            Group(conn, 12, [d['01:00.1'], d['01:00.0']], 'user', True, True,
                  holders=[(4242, 'qemu\x1b[31m', 'machine-qemu\\x2dvm.scope')]),
            Group(conn, 14, [d['03:00.0']], 'kernel', False, True),
        ]
        self.groups = {g.number: g for g in groups}

    def resolve(self, target):
        if is_address(target):
            dev = self.devices.get(target)
            if dev is None:
                raise BusError(ERR + 'NoSuchDevice', 'No device %s' % target)
            return self.groups[int(dev.props['Group'].rsplit('/', 1)[1])]
        if target.isdigit() and not (len(target) > 1 and target[0] == '0'):
            g = self.groups.get(int(target))
            if g is None:
                raise BusError(ERR + 'NoSuchGroup', 'No IOMMU group %s' % target)
            return g
        raise BusError('org.freedesktop.DBus.Error.InvalidArgs', 'Invalid target')

    @dbus.service.method(MANAGER_IFACE, in_signature='', out_signature='a(uo)')
    def ListGroups(self):
        return [(dbus.UInt32(g.number), dbus.ObjectPath(g.__dbus_object_path__)) for g in self.groups.values()]

    @dbus.service.method(MANAGER_IFACE, in_signature='', out_signature='a(so)')
    def ListDevices(self):
        return [(a, dbus.ObjectPath(d.__dbus_object_path__)) for a, d in self.devices.items()]

    @dbus.service.method(MANAGER_IFACE, in_signature='u', out_signature='o')
    def GetGroup(self, number):
        return self.resolve(str(int(number))).__dbus_object_path__

    @dbus.service.method(MANAGER_IFACE, in_signature='s', out_signature='o')
    def GetDevice(self, address):
        if not is_address(address):
            raise BusError('org.freedesktop.DBus.Error.InvalidArgs', 'Invalid PCI address')
        dev = self.devices.get(address)
        if dev is None:
            raise BusError(ERR + 'NoSuchDevice', 'No device %s' % address)
        return dev.__dbus_object_path__

    @dbus.service.method(MANAGER_IFACE, in_signature='s', out_signature='bas')
    def CheckAssign(self, target):
        g = self.resolve(target)
        return (g.props['Viable'], dbus.Array(g.props['Blockers'], signature='s'))

    @dbus.service.method(MANAGER_IFACE, in_signature='st', out_signature='as')
    def AssignGroup(self, target, flags):
        g = self.resolve(target)
        self.calls.append('AssignGroup %s %d' % (target, flags))
        if g.number == 14:
            raise BusError('org.freedesktop.DBus.Error.AccessDenied', 'Access denied by polkit (mock)')
        if g.number == 13 and not flags & 1:
            raise BusError(ERR + 'InUse', '0000:02:00.0: eth0 is up and carries an address')
        if not g.props['Viable'] and g.number != 13:
            raise BusError(ERR + 'NotViable', 'group %d is not viable' % g.number)
        g.set(Owner=dbus.String('user'), Reserved=dbus.Boolean(True))
        report = ['%s: %s -> vfio-pci' % (d.address, d.props['Driver']) for d in g.devices]
        return dbus.Array(report, signature='s')

    @dbus.service.method(MANAGER_IFACE, in_signature='st', out_signature='as')
    def ReleaseGroup(self, target, flags):
        g = self.resolve(target)
        self.calls.append('ReleaseGroup %s %d' % (target, flags))
        g.set(Owner=dbus.String('kernel'), Reserved=dbus.Boolean(False))
        return dbus.Array([], signature='s')

    @dbus.service.method(MANAGER_IFACE, in_signature='', out_signature='')
    def Reload(self):
        self.calls.append('Reload')
        self.PolicyReloaded(True, '')

    @dbus.service.method(MANAGER_IFACE, in_signature='', out_signature='')
    def Rescan(self):
        self.calls.append('Rescan')

    @dbus.service.method(MANAGER_IFACE, in_signature='s', out_signature='')
    def SetMode(self, mode):
        if mode not in ('enforce', 'audit'):
            raise BusError('org.freedesktop.DBus.Error.InvalidArgs', 'Invalid mode')
        self.calls.append('SetMode %s' % mode)
        self.set(Mode=dbus.String(mode))

    @dbus.service.signal(MANAGER_IFACE, signature='ssuss')
    def Violation(self, device, driver, group, rule, action):
        pass

    @dbus.service.signal(MANAGER_IFACE, signature='bs')
    def PolicyReloaded(self, ok, error):
        pass

    @dbus.service.method(MOCK_IFACE, in_signature='', out_signature='')
    def EmitViolation(self):
        self.Violation('0000:01:00.1', 'snd_hda_intel', dbus.UInt32(12), 'gpu "passthrough"', 'unbind')

    @dbus.service.method(MOCK_IFACE, in_signature='', out_signature='')
    def EmitPropertyChange(self):
        self.groups[12].set(Viable=dbus.Boolean(False))

    @dbus.service.method(MOCK_IFACE, in_signature='', out_signature='as')
    def Calls(self):
        return dbus.Array(self.calls, signature='s')


def main():
    DBusGMainLoop(set_as_default=True)
    conn = dbus.bus.BusConnection(sys.argv[1])
    manager = Manager(conn)
    name = dbus.service.BusName(BUS_NAME, conn, do_not_queue=True)
    print('READY', flush=True)
    loop = GLib.MainLoop()
    loop.run()
    del manager, name


if __name__ == '__main__':
    main()

#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The shipped unit files parse: the polkit actions against polkit's DTD, the D-Bus policy as XML, the service by
systemd-analyze. Exits 77 (skipped) only when none of the checkers is installed."""

import os
import shutil
import subprocess
import sys

UNITS = os.environ.get('UNITS_DIR') or os.path.join(os.path.dirname(__file__), '..', '..', '..', 'units')
checked = 0
failed = 0


def run(what, argv):
    global checked, failed
    checked += 1
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        failed += 1
        print(f'FAIL {what}: {" ".join(argv)}\n{p.stdout}{p.stderr}')
    else:
        print(f'ok   {what}')
    return p


xmllint = shutil.which('xmllint')
dtd = next((d for d in ('/usr/share/polkit-1/policyconfig-1.dtd',) if os.path.exists(d)), None)
if xmllint and dtd:
    run('polkit actions valid against ' + dtd,
        [xmllint, '--noout', '--dtdvalid', dtd, os.path.join(UNITS, 'org.dmaownerd1.policy')])
else:
    print('skip polkit DTD check: xmllint or /usr/share/polkit-1/policyconfig-1.dtd missing '
          '(apt-get install libxml2-utils polkitd)')
if xmllint:
    run('D-Bus policy is well-formed XML', [xmllint, '--noout', os.path.join(UNITS, 'org.dmaownerd1.conf')])
    p = subprocess.run([xmllint, '--xpath', 'count(//action)', os.path.join(UNITS, 'org.dmaownerd1.policy')],
                       capture_output=True, text=True)
    checked += 1
    if p.stdout.strip() != '2':
        failed += 1
        print(f'FAIL expected 2 polkit actions, found {p.stdout.strip()!r}')
    for action in ('org.dmaownerd1.assign', 'org.dmaownerd1.manage'):
        p = subprocess.run([xmllint, '--xpath', f'string(//action[@id="{action}"]/defaults/allow_active)',
                            os.path.join(UNITS, 'org.dmaownerd1.policy')], capture_output=True, text=True)
        checked += 1
        if p.stdout.strip() != 'auth_admin_keep':
            failed += 1
            print(f'FAIL {action}: allow_active is {p.stdout.strip()!r}, expected auth_admin_keep')

# The hardening of the unit as built (with @sbindir@ and the service type filled in), scored offline.
service = os.environ.get('SERVICE_UNIT')
analyze = shutil.which('systemd-analyze')
if service and analyze:
    p = run('systemd-analyze security --offline=true', [analyze, 'security', '--offline=true', '--no-pager', service])
    print(p.stdout, end='')
    exposure = [line for line in p.stdout.splitlines() if 'Overall exposure level' in line]
    checked += 1
    try:
        value = float(exposure[0].split(':')[1].split()[0])
    except (IndexError, ValueError):
        value = None
    if value is None or value > 3.0:
        failed += 1
        print(f'FAIL exposure of {service}: {exposure} (at most 3.0)')
    else:
        print(f'ok   exposure {value} <= 3.0')
else:
    print('skip systemd-analyze security: SERVICE_UNIT unset or systemd-analyze missing')

if checked == 0:
    print('nothing to check with: install libxml2-utils')
    sys.exit(77)
print(f'{checked - failed} passed, {failed} failed')
sys.exit(1 if failed else 0)

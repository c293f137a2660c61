#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# ctl/dma-ownerctl.bash-completion in a real bash (--norc, with the system's bash-completion library, as an
# interactive shell would load it): COMP_WORDS/COMP_CWORD/COMP_LINE/COMP_POINT set as bash's readline sets them
# (the line split at blanks and at the characters of COMP_WORDBREAKS), the completion function called, COMPREPLY
# compared with the exact candidates. Group numbers and addresses come from the real dma-ownerctl, which the
# script runs, talking to the mock of org.dmaownerd1 (mock-dmaownerd.py) on a private dbus-daemon.
# Usage: test-completion.py PATH/TO/dma-ownerctl COMPLETION-SCRIPT

import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mockbus import MockBus, missing  # noqa: E402
SKIP = 77
BASH_COMPLETION = '/usr/share/bash-completion/bash_completion'
VERBS = ['assign', 'check', 'help', 'list', 'mode', 'monitor', 'policy', 'release', 'reload', 'rescan', 'show']
OPTIONS = ['--address=', '--force', '--help', '--json', '--persist', '--version']
# What mock-dmaownerd.py holds.
GROUPS = ['1', '12', '13', '14']
ADDRESSES = ['0000:00:1c.0', '0000:01:00.0', '0000:01:00.1', '0000:02:00.0', '0000:03:00.0']
failures = []

# Loaded once per case: the library, the script under test, and a compopt that records instead of failing (the
# builtin only works while readline runs a completion).
HARNESS = r'''
source "$BASH_COMPLETION" || exit 90
source "$SCRIPT" || exit 91
compopt() { printf '%s\n' "$*" >>"$COMPOPT_LOG"; }
[[ $(complete -p dma-ownerctl) == 'complete -F _dma_ownerctl dma-ownerctl' ]] || exit 92
COMP_LINE=$1
COMP_POINT=${#COMP_LINE}
shift
COMP_CWORD=$1
shift
COMP_WORDS=("$@")
COMP_TYPE=9
COMP_KEY=9
COMPREPLY=()
_dma_ownerctl dma-ownerctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
printf '%s\n' "${COMPREPLY[@]}"
'''


def check(cond, what, detail=''):
    if cond:
        print('ok - %s' % what)
    else:
        print('not ok - %s%s' % (what, ('\n#   ' + detail.replace('\n', '\n#   ')) if detail else ''))
        failures.append(what)


def comp_words(line):
    '''The words readline hands a completion function: split at blanks, and at the default COMP_WORDBREAKS
    (`"'><=;|&(:`), each run of break characters a word of its own. The last word is the one being completed
    (empty after a blank).'''
    words = []
    for token in line.split():
        words += re.findall(r'''["'><=;|&(:]+|[^"'><=;|&(:]+''', token)
    if not line or line[-1].isspace():
        words.append('')
    return words


class Completer:
    def __init__(self, script, path, cwd, env):
        self.script = script
        self.path = path
        self.cwd = cwd
        self.env = env
        self.compopt_log = os.path.join(cwd, '..', 'compopt.log')

    def complete(self, line, env=None):
        words = comp_words(line)
        e = dict(self.env, PATH=self.path, BASH_COMPLETION=BASH_COMPLETION, SCRIPT=self.script,
                 COMPOPT_LOG=self.compopt_log)
        e.update(env or {})
        open(self.compopt_log, 'w').close()
        p = subprocess.run(['bash', '--norc', '--noprofile', '-c', HARNESS, 'completion-test', line,
                            str(len(words) - 1)] + words, capture_output=True, text=True, env=e, cwd=self.cwd,
                           timeout=60)
        with open(self.compopt_log) as f:
            compopt = f.read().splitlines()
        return p.returncode, [w for w in p.stdout.split('\n') if w], p.stderr, compopt

    def expect(self, line, candidates, what, env=None, compopt=None):
        rc, got, err, opts = self.complete(line, env)
        detail = 'line %r, words %r\nrc=%d\nCOMPREPLY=%r\nstderr:\n%s' % (line, comp_words(line), rc, got, err)
        check(rc == 0 and sorted(got) == sorted(candidates) and err == '',
              '%s: %r completes to %s' % (what, line, ' '.join(candidates) or 'nothing'), detail)
        if compopt is not None:
            check(opts == compopt, '%s: compopt %r' % (what, compopt), 'compopt calls: %r' % opts)


def after_last_colon(word, candidates):
    '''What COMPREPLY holds for a word readline split at colons: each candidate less the part of the word up to
    its last colon, which stays on the line (bash-completion's __ltrim_colon_completions).'''
    cut = word.rsplit(':', 1)[0] + ':' if ':' in word else ''
    return [c[len(cut):] for c in candidates if c.startswith(word)]


def test_static(c):
    c.expect('dma-ownerctl ', VERBS, 'verbs')
    c.expect('dma-ownerctl re', ['release', 'reload', 'rescan'], 'verb prefix')
    c.expect('dma-ownerctl mo', ['mode', 'monitor'], 'verb prefix')
    c.expect('dma-ownerctl x', [], 'no verb')
    c.expect('dma-ownerctl --', OPTIONS, 'options', compopt=[])
    c.expect('dma-ownerctl --ad', ['--address='], 'option prefix, no space after =', compopt=['-o nospace'])
    c.expect('dma-ownerctl --json ', VERBS, 'verbs after an option')
    c.expect('dma-ownerctl list --', OPTIONS, 'options after the verb')
    c.expect('dma-ownerctl mode ', ['audit', 'enforce'], 'modes')
    c.expect('dma-ownerctl mode a', ['audit'], 'mode prefix')
    c.expect('dma-ownerctl policy ', ['check', 'generate'], 'policy subcommands')
    c.expect('dma-ownerctl policy g', ['generate'], 'policy subcommand prefix')
    c.expect('dma-ownerctl policy generate ', [], 'nothing after policy generate')
    c.expect('dma-ownerctl list ', [], 'list takes no argument')
    # A bus address is not completed: in particular not with verbs.
    c.expect('dma-ownerctl --address=', [], '--address= value')
    c.expect('dma-ownerctl --address=unix:path', [], '--address= value')
    c.expect('dma-ownerctl --address ', [], '--address value')


def test_policy_files(c):
    for name in ('a.yaml', 'b.yml', 'notes.txt'):
        open(os.path.join(c.cwd, name), 'w').close()
    os.makedirs(os.path.join(c.cwd, 'policy.d'), exist_ok=True)
    c.expect('dma-ownerctl policy check ', ['a.yaml', 'b.yml', 'policy.d'], 'policy check: YAML files and folders')
    c.expect('dma-ownerctl policy check a', ['a.yaml'], 'policy check: file prefix')


def test_targets(c, address):
    on_bus = {'DBUS_SYSTEM_BUS_ADDRESS': address}
    targets = GROUPS + ADDRESSES
    for verb in ('show', 'check', 'assign', 'release'):
        c.expect('dma-ownerctl %s ' % verb, targets, verb + ': groups and addresses from the daemon', on_bus)
    c.expect('dma-ownerctl show 1', ['1', '12', '13', '14'], 'group prefix', on_bus)
    c.expect('dma-ownerctl assign 0000:0', after_last_colon('0000:0', ADDRESSES), 'address prefix', on_bus)
    c.expect('dma-ownerctl assign 0000:01', after_last_colon('0000:01', ADDRESSES), 'address prefix with a colon',
             on_bus)
    c.expect('dma-ownerctl release 0000:01:00.', after_last_colon('0000:01:00.', ADDRESSES),
             'address prefix with two colons', on_bus)
    c.expect('dma-ownerctl --json check ', targets, 'targets after an option', on_bus)
    c.expect('dma-ownerctl assign --force ', targets, 'targets after a trailing option', on_bus)
    # The bus named on the line is the one asked (the environment names none).
    c.expect('dma-ownerctl --address=%s show ' % address, targets, '--address=ADDRESS passed on')
    c.expect('dma-ownerctl --address %s release 0000:03' % address, after_last_colon('0000:03', ADDRESSES),
             '--address ADDRESS passed on')
    c.expect('dma-ownerctl show --address=%s 14' % address, ['14'], '--address after the verb')
    # No daemon on the bus asked: nothing, and quietly.
    c.expect('dma-ownerctl show ', [], 'no daemon', {'DBUS_SYSTEM_BUS_ADDRESS': 'unix:path=/nonexistent/bus'})


def main():
    if len(sys.argv) != 3:
        print('usage: test-completion.py DMA-OWNERCTL COMPLETION-SCRIPT', file=sys.stderr)
        return 2
    ctl, script = (os.path.abspath(a) for a in sys.argv[1:])
    if not os.path.exists(BASH_COMPLETION):
        print('1..0 # SKIP bash-completion is not installed (%s)' % BASH_COMPLETION)
        return SKIP
    why = missing()
    if why:
        print('1..0 # SKIP %s' % why)
        return SKIP

    with tempfile.TemporaryDirectory(prefix='dma-ownerctl-completion.') as tmp:
        # dma-ownerctl found on PATH, as the script expects, and nothing of the machine's own.
        bindir = os.path.join(tmp, 'bin')
        os.makedirs(bindir)
        os.symlink(ctl, os.path.join(bindir, 'dma-ownerctl'))
        path = bindir + ':/usr/bin:/bin'
        work = os.path.join(tmp, 'work')
        os.makedirs(work)
        env = {k: v for k, v in os.environ.items() if not k.startswith(('DBUS_', 'BASH_', 'COMP'))}
        env['DBUS_SYSTEM_BUS_ADDRESS'] = 'unix:path=' + os.path.join(tmp, 'no-bus')
        c = Completer(script, path, work, env)

        try:
            mb = MockBus(tmp)
        except RuntimeError as e:
            print('not ok - %s' % e)
            return 1
        with mb:
            address = mb.address
            # The candidates below are what the mock holds, as the CLI prints them.
            listed = json.loads(subprocess.run([ctl, '--address=' + address, '--json', 'list'], capture_output=True,
                                               text=True, check=True, timeout=60).stdout)
            check(sorted(str(g['Number']) for g in listed) == sorted(GROUPS) and
                  sorted(d['Address'] for g in listed for d in g['Devices']) == sorted(ADDRESSES),
                  'the mock holds the expected groups and devices', repr(listed))

            test_static(c)
            test_policy_files(c)
            test_targets(c, address)

    print('# %d failed' % len(failures) if failures else '# all passed')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Check strace logs of ember-seccomp-test (EMBER_SECCOMP_TEST_TRACE=1)
against ember's allowlists.

Usage: check_trace.py ALLOWLISTS.txt TRACEDIR

TRACEDIR holds one directory per ember run, each with the per-thread logs
of `strace -f -ff -X raw -o DIR/t` (t.<tid>). In each thread, the first
write(-1, "ember-seccomp-mark KIND", ...) is where that thread's filter
would go on; every syscall after it must be allowed by KIND's list, with
its arguments (the same masked comparisons as the filter).

Prints, per kind, the syscalls seen and the list entries no workload used,
then "FAIL ..." for each syscall that the filter would have refused
(exit status 1), or "ok" lines (exit status 0).
"""
import collections
import os
import re
import sys

MARK = re.compile(r'^write\(-1, "ember-seccomp-mark (vmm|api|vcpu)"')
CALL = re.compile(r'^([a-z_0-9]+)\((.*)$')


def load_lists(path):
    rules = collections.defaultdict(list)  # (kind, name) -> [(label, checks)]
    with open(path) as f:
        for line in f:
            if line.startswith('#') or not line.strip():
                continue
            parts = line.split()
            kind, name = parts[0], parts[1]
            checks = []
            label = ''
            for p in parts[3:]:
                m = re.fullmatch(r'(\d+):0x([0-9a-f]+):0x([0-9a-f]+)', p)
                if m:
                    checks.append((int(m.group(1)), int(m.group(2), 16), int(m.group(3), 16)))
                else:
                    label += (' ' if label else '') + p
            rules[(kind, name)].append((label, checks))
    return rules


def split_args(s):
    """The top-level arguments of an strace call line (after the '(')."""
    args, cur, depth, i = [], '', 0, 0
    while i < len(s):
        c = s[i]
        if c == '"':
            j = i + 1
            while j < len(s) and s[j] != '"':
                j += 2 if s[j] == '\\' else 1
            cur += s[i:j + 1]
            i = j + 1
            # strace marks a cut string with "..."
            continue
        if c in '[{(':
            depth += 1
        elif c in ']})':
            if depth == 0:
                args.append(cur.strip())
                return args
            depth -= 1
        elif c == ',' and depth == 0:
            args.append(cur.strip())
            cur = ''
            i += 1
            continue
        cur += c
        i += 1
    args.append(cur.strip())
    return args


def num(tok):
    tok = tok.strip()
    if tok == 'NULL':
        return 0
    m = re.fullmatch(r'-?(0x[0-9a-fA-F]+|\d+)', tok)
    if not m:
        return None
    return int(tok, 0) & 0xffffffffffffffff


def allowed(rules, kind, name, args):
    entries = rules.get((kind, name))
    if not entries:
        return None
    for label, checks in entries:
        ok = True
        for arg, mask, val in checks:
            v = num(args[arg]) if arg < len(args) else None
            if v is None or (v & mask) != val:
                ok = False
                break
        if ok:
            return label or name
    return None


def main():
    rules = load_lists(sys.argv[1])
    root = sys.argv[2]
    used = collections.defaultdict(collections.Counter)
    bad = collections.Counter()
    example = {}
    threads = collections.Counter()
    for run in sorted(os.listdir(root)):
        d = os.path.join(root, run)
        if not os.path.isdir(d):
            continue
        for f in os.listdir(d):
            if not f.startswith('t.'):
                continue
            kind = None
            with open(os.path.join(d, f), errors='replace') as fh:
                for line in fh:
                    if kind is None:
                        m = MARK.match(line)
                        if m:
                            kind = m.group(1)
                            threads[kind] += 1
                        continue
                    m = CALL.match(line)
                    if not m:
                        continue  # signals, exits, "<... resumed>"
                    name, rest = m.group(1), m.group(2)
                    # a call the thread's end cut short: "ioctl(9, 0xae80
                    # <unfinished ...>) = ?" (made all the same)
                    args = split_args(rest.replace(' <unfinished ...>', ''))
                    what = allowed(rules, kind, name, args)
                    if what is None:
                        key = (kind, name if name != 'ioctl' or len(args) < 2 else
                               'ioctl ' + args[1])
                        bad[key] += 1
                        example.setdefault(key, line.split(') =')[0][:160] + ')')
                    else:
                        used[kind][(name, what)] += 1
    status = 0
    for kind in ('vmm', 'api', 'vcpu'):
        listed = sorted({(n, l or n) for (k, n), es in rules.items() if k == kind
                         for l, _ in es})
        seen = used[kind]
        print(f'{kind}: {threads[kind]} threads traced; used: ' +
              ', '.join(f'{n}[{w}]' if w != n else n for (n, w) in sorted(seen)))
        unused = [f'{n}[{l}]' if l != n else n for n, l in listed if (n, l) not in seen]
        print(f'{kind}: listed, not used by these workloads: ' + (', '.join(unused) or '-'))
        if not threads[kind]:
            print(f'FAIL {kind}: no {kind} thread was traced')
            status = 1
    for (kind, call), n in sorted(bad.items()):
        print(f'FAIL {kind}: {call} not allowed ({n}x), e.g. {example[(kind, call)]}')
        status = 1
    if status == 0:
        print('ok every traced syscall is in its thread\'s list')
    return status


if __name__ == '__main__':
    sys.exit(main())

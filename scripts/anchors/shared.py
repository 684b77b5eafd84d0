"""Falco's CloudTrail rules and SigmaHQ's AWS rules (../shared/rules) -> falco.tsv, sigma.tsv:
the Harrier pack rules that name the same CloudTrail APIs (Harrier also runs both rule sets
as they are; see docs/coverage.md)."""
import os
OUT = os.environ.get('ANCHORS_OUT', '/tmp/anchors')
os.makedirs(OUT, exist_ok=True)
import glob
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

SHARED = os.environ.get('SHARED', os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'shared'))
TOKEN = re.compile(r'[A-Z][A-Za-z0-9]+')


def apis_in(text):
    seen = []
    for t in TOKEN.findall(text):
        if C.is_api(t) and t not in seen:
            seen.append(t)
    return seen


def write(name, rows):
    with open(os.path.join(OUT, name), 'w') as o:
        o.write('\t'.join(['anchor_rule', 'name', 'type', 'event_names', 'harrier_rules', 'reason_if_none']) + '\n')
        for row in rows:
            o.write('\t'.join(c.replace('\t', ' ').replace('\n', ' ') for c in row) + '\n')


def main():
    index = C.load_harrier()
    hsvcs = C.harrier_services(index)
    # Falco: each `- rule:` item's condition (macros are inlined by name only; the CloudTrail
    # file writes ct.name comparisons in the rules themselves).
    text = open(os.path.join(SHARED, 'rules', 'falco', 'aws_cloudtrail_rules.yaml')).read()
    rows = []
    for item in re.split(r'\n(?=- )', text):
        m = re.match(r'- rule:\s*(.+)', item)
        if not m:
            continue
        cond = re.search(r'condition:\s*>?\s*\n?(.*?)(?:\n  [a-z_]+:|\Z)', item, re.S)
        apis = apis_in(cond.group(1) if cond else '')
        hits = C.by_api(index, apis)
        why = '' if hits else C.reason(False, apis, C.services_of(apis), hsvcs)
        rows.append(['aws_cloudtrail_rules.yaml', m.group(1).strip(), 'falco', ','.join(apis),
                     C.fmt_api_hits(index, hits) if hits else '', why])
    write('falco.tsv', rows)
    # Sigma: the `detection` block of each AWS rule.
    rows = []
    for f in sorted(glob.glob(os.path.join(SHARED, 'rules', 'sigma', '**', '*.yml'), recursive=True)):
        if '/aws' not in f:
            continue
        t = open(f).read()
        title = re.search(r'^title:\s*(.+)$', t, re.M)
        det = t.split('detection:', 1)[1] if 'detection:' in t else ''
        det = re.split(r'\n[a-z]+:', det, 1)[0]
        apis = apis_in(det)
        stateful = '| count' in t or 'correlation:' in t
        hits = C.by_api(index, apis)
        why = '' if hits else C.reason(stateful, apis, C.services_of(apis), hsvcs)
        rel = os.path.relpath(f, os.path.join(SHARED, 'rules', 'sigma'))
        rows.append([rel, title.group(1).strip() if title else rel, 'sigma', ','.join(apis),
                     C.fmt_api_hits(index, hits) if hits else '', why])
    write('sigma.tsv', rows)
    print(len(rows))


if __name__ == '__main__':
    main()

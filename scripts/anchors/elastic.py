"""Elastic AWS rules -> $ANCHORS_OUT/elastic.tsv (by-API coverage against Harrier's pack)."""
import os
OUT = os.environ.get('ANCHORS_OUT', '/tmp/anchors')
os.makedirs(OUT, exist_ok=True)
import json, re, sys, subprocess, tomllib
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C

R = os.environ.get('ELASTIC_REPO', '/work/.mirror/elastic+detection-rules/repo')
files = [f for f in subprocess.check_output(['git', '-C', R, 'ls-tree', '-r', '--name-only', 'HEAD',
         'rules/integrations/aws/'], text=True).split() if f.endswith('.toml')]

ACT = re.compile(r'(?P<neg>\bnot\s+)?event\.action\s*(?P<op>:|==|!=|\bnot\s+in\b|\bin\b|\bIN\b|\blike\b|\bLIKE\b|\brlike\b)\s*', re.I)


def grab_value(q, pos):
    """Text of the value after an event.action operator: a (...) group or one token."""
    if pos < len(q) and q[pos] == '(':
        depth, i = 0, pos
        while i < len(q):
            depth += q[i] == '('
            depth -= q[i] == ')'
            if depth == 0:
                return q[pos:i + 1]
            i += 1
        return q[pos:]
    m = re.match(r'"[^"]*"|\S+', q[pos:])
    return m.group(0) if m else ''


PREFIX_ONLY = {'Describe', 'Get', 'List', 'Generate', 'Create', 'Delete', 'Put', 'Update', 'Batch'}


def stem(tok):
    star = tok.strip('"').endswith('*')
    tok = re.sub(r'20\*?$', '', tok.strip('"*')).rstrip('*')
    return tok + '*' if star and tok in PREFIX_ONLY else tok


def extract(q):
    q = re.sub(r'//[^\n]*', '', q)
    names, excluded, dropped = [], set(), set()
    for m in ACT.finditer(q):
        val = grab_value(q, m.end())
        neg = bool(m.group('neg')) or m.group('op').lower() in ('!=', 'not in')
        for t in re.findall(r'"?[A-Za-z][A-Za-z0-9]*\*?"?', val):
            s = stem(t)
            if s.lower() in ('or', 'and', 'not', 'in'):
                continue
            if s.endswith('*') or C.is_api(s, in_action=True) or (C.CAMEL.match(s) and s not in C.NOT_API):
                (excluded.add(s) if neg else names.append(s))
            else:
                dropped.add(s)
    for t in re.findall(r'starts_with\(\s*event\.action\s*,\s*"([A-Za-z0-9]+)"', q):
        names.append(t + '*' if t in PREFIX_ONLY else t)
    for t in re.findall(r'"([A-Za-z][A-Za-z0-9]*)\*?"', q):
        if C.is_api(t) and t not in excluded:
            names.append(t)
        elif C.CAMEL.match(t):
            dropped.add(t)
    out = []
    for n in names:
        if n not in out and n not in excluded:
            out.append(n)
    providers = set()
    for m in re.finditer(r'(?<!not )event\.provider\s*(?::|==|\bin\b|\bIN\b)\s*', q):
        providers |= set(re.findall(r'[a-z0-9-]+\.amazonaws\.com', grab_value(q, m.end())))
    providers = sorted(providers)
    return out, providers, sorted(dropped - set(out))


def is_stateful(typ, q):
    """threshold/new_terms/ML types; ES|QL that aggregates then filters on the aggregate
    (a count); EQL sequences (correlate several events)."""
    if typ in ('threshold', 'new_terms', 'machine_learning'):
        return True
    ql = re.sub(r'//[^\n]*', '', q).lower()
    if typ == 'esql':
        parts = re.split(r'\|\s*stats\b', ql, maxsplit=1)
        if len(parts) == 2 and re.search(r'\|\s*where\b[^|]*(>=|>|==|<)', parts[1]):
            return True
    if typ == 'eql' and ql.lstrip().startswith('sequence'):
        return True
    return False


def main():
    index = C.load_harrier()
    hsvcs = C.harrier_services(index)
    rows, debug = [], []
    for f in files:
        d = tomllib.loads(subprocess.check_output(['git', '-C', R, 'show', 'HEAD:' + f], text=True))
        r = d['rule']
        q = r.get('query', '') or ''
        apis, providers, dropped = extract(q)
        typ = r['type']
        hits = C.by_api(index, apis)
        if hits:
            cov, why = C.fmt_api_hits(index, hits), ''
        else:
            cov = ''
            stateful = is_stateful(typ, q)
            svcs = set(providers) or C.services_of(apis)
            why = C.reason(stateful, apis, svcs, hsvcs)
            if not apis:
                why += ' (no eventName in the query)'
        rows.append([f.rsplit('/', 1)[-1] + ' ' + r['rule_id'], r['name'], typ, ','.join(apis), cov, why])
        debug.append(dict(file=f, name=r['name'], type=typ, apis=apis, providers=providers, dropped=dropped))
    with open(os.path.join(OUT, 'elastic.tsv'), 'w') as o:
        o.write('\t'.join(['anchor_rule', 'name', 'type', 'event_names', 'harrier_rules', 'reason_if_none']) + '\n')
        for row in rows:
            o.write('\t'.join(c.replace('\t', ' ').replace('\n', ' ') for c in row) + '\n')
    json.dump(debug, open(os.path.join(OUT, 'elastic_debug.json'), 'w'), indent=1)
    print(len(rows))


if __name__ == '__main__':
    main()

"""The anchor tables as Markdown (for docs/coverage.md), from elastic.tsv and panther.tsv."""
import csv
import os
import subprocess

OUT = os.environ.get('ANCHORS_OUT', '/tmp/anchors')


def rows(name):
    with open(os.path.join(OUT, name)) as f:
        return list(csv.DictReader(f, delimiter='\t'))


def commit(repo):
    return subprocess.run(['git', '-C', repo, 'log', '-1', '--format=%h %cs'], capture_output=True,
                          text=True).stdout.strip()


def cell(s):
    return (s or '').replace('|', '\\|').strip()


def counts(rs):
    tests = sum(1 for r in rs if 'true cases)' in r['harrier_rules'])
    api = sum(1 for r in rs if r['harrier_rules'] and 'true cases)' not in r['harrier_rules'])
    only_attempts = sum(1 for r in rs if r['harrier_rules'] and all(
        h.strip().startswith('Attempted') for h in r['harrier_rules'].split('),') if h.strip()))
    why = {}
    for r in rs:
        if not r['harrier_rules']:
            k = r['reason_if_none'].split(' (')[0]
            why[k] = why.get(k, 0) + 1
    parts = []
    if tests:
        parts.append(f'{tests} by a Harrier rule firing on its own test events')
    parts.append(f'{api} by a Harrier rule on the same APIs')
    not_cov = ', '.join(f'{n} {k}' for k, n in sorted(why.items(), key=lambda x: -x[1]))
    return (f'{len(rs)} rules: covered {" + ".join(parts)} ({only_attempts} of them only when the call is '
            f'denied, by an "Attempted ..." rule); not covered: {not_cov or "none"}.')


def table(title, rs, key_col):
    out = [f'### {title}', '', counts(rs), '', '| anchor rule | type | APIs | Harrier | why not |', '|---|---|---|---|---|']
    for r in sorted(rs, key=lambda r: r['name'].lower()):
        apis = cell(r['event_names'])
        if len(apis) > 80:
            apis = apis[:77].rsplit(',', 1)[0] + ', ...'
        out.append(f"| {cell(r['name'])} (`{cell(r[key_col].split()[-1] if ' ' in r[key_col] else r[key_col])}`) "
                   f"| {cell(r['type'])} | {apis} | {cell(r['harrier_rules']) or '—'} | {cell(r['reason_if_none'])} |")
    return out


f = rows('falco.tsv')
s = rows('sigma.tsv')
e = rows('elastic.tsv')
p = rows('panther.tsv')
er = os.environ.get('ELASTIC_REPO', '/work/.mirror/elastic+detection-rules/repo')
pr = os.environ.get('PANTHER_REPO', '/work/.mirror/panther-labs+panther-analysis/repo')
lines = [f'Elastic `elastic/detection-rules` at {commit(er)} (`rules/integrations/aws`, {len(e)} rules); '
         f'Panther `panther-labs/panther-analysis` at {commit(pr)} (`rules/aws_cloudtrail_rules`, {len(p)} rules).', '']
lines += table("Falco's CloudTrail rules", f, 'anchor_rule') + ['']
lines += table("SigmaHQ's AWS rules", s, 'anchor_rule') + ['']
lines += table('Elastic', e, 'anchor_rule') + [''] + table('Panther', p, 'anchor_rule')
print('\n'.join(lines))

"""Counts for $ANCHORS_OUT/summary.txt from elastic.tsv and panther.tsv."""
import os
OUT = os.environ.get('ANCHORS_OUT', '/tmp/anchors')
os.makedirs(OUT, exist_ok=True)
import csv, collections, re, subprocess

def rows(p):
    with open(p) as f:
        return list(csv.DictReader(f, delimiter='\t', quoting=csv.QUOTE_NONE))

def only_attempted(cov):
    names = [re.sub(r'\s*\(.*?\)$', '', c.strip()) for c in re.split(r',\s*(?![^()]*\))', cov) if c.strip()]
    return bool(names) and all(n.startswith('Attempted ') for n in names)

def commit(m):
    return subprocess.check_output(['git', '-C', m, 'log', '--oneline', '-1'], text=True).strip()

out = []
out.append('Anchor mirrors:')
out.append('  elastic/detection-rules      ' + commit(os.environ.get('ELASTIC_REPO', '/work/.mirror/elastic+detection-rules/repo')))
out.append('  panther-labs/panther-analysis ' + commit(os.environ.get('PANTHER_REPO', '/work/.mirror/panther-labs+panther-analysis/repo')))
out.append('Harrier pack: rules/aws/*.yaml')
out.append('')
for label, path in (('Elastic rules/integrations/aws/*.toml', 'elastic.tsv'),
                    ('Panther rules/aws_cloudtrail_rules/*.yml', 'panther.tsv')):
    path = os.path.join(OUT, path)
    rs = rows(path)
    tests = [r for r in rs if 'true cases)' in r['harrier_rules']]
    api = [r for r in rs if r['harrier_rules'] and 'true cases)' not in r['harrier_rules']]
    none = [r for r in rs if not r['harrier_rules']]
    why = collections.Counter(re.sub(r'\s*\(no eventName.*\)$', '', r['reason_if_none']) for r in none)
    out.append(f'{label}: {len(rs)} rules')
    if 'panther' in path:
        out.append(f'  covered by test events (Harrier fired on >=1 ExpectedResult:true log): {len(tests)}')
        out.append(f'    of which only through an "Attempted ..." (denied-call) rule: {sum(only_attempted(r["harrier_rules"]) for r in tests)}')
    out.append(f'  covered by API (rule condition names one of its eventNames): {len(api)}')
    out.append(f'    of which only through an "Attempted ..." (denied-call) rule: {sum(only_attempted(r["harrier_rules"]) for r in api)}')
    out.append(f'  not covered: {len(none)}')
    for k, v in why.most_common():
        out.append(f'    {k}: {v}')
    noname = sum('no eventName' in r['reason_if_none'] for r in none)
    out.append(f'    (of the not covered, {noname} name no eventName at all)')
    bytype = collections.defaultdict(collections.Counter)
    for r in rs:
        t = re.sub(r' \(uses cache\)', '', r['type'])
        t = 'threshold >1' if t.startswith('threshold') else t
        bytype[t]['covered' if r['harrier_rules'] else 'not covered'] += 1
    out.append('  by type: ' + '; '.join(f"{t} {c['covered']}/{c['covered'] + c['not covered']} covered" for t, c in sorted(bytype.items())))
    out.append('')
open(os.path.join(OUT, 'summary.txt'), 'w').write('\n'.join(out))
print('\n'.join(out))

"""Panther AWS CloudTrail rules -> $ANCHORS_OUT/panther.tsv.
Coverage: run Harrier on each rule's ExpectedResult:true test logs; fall back to by-API index."""
import os
OUT = os.environ.get('ANCHORS_OUT', '/tmp/anchors')
os.makedirs(OUT, exist_ok=True)
import json, os, re, subprocess, sys, yaml
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C

R = os.environ.get('PANTHER_REPO', '/work/.mirror/panther-labs+panther-analysis/repo')
import os
HARRIER = os.environ.get('HARRIER', os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'target', 'release', 'harrier'))
CASES = os.path.join(OUT, 'panther_cases')
os.makedirs(CASES, exist_ok=True)


def git_show(path):
    try:
        return subprocess.check_output(['git', '-C', R, 'show', 'HEAD:' + path], text=True, stderr=subprocess.DEVNULL)
    except subprocess.CalledProcessError:
        return None


# A few Panther tests store the record with lower-cased keys (data-lake style): restore
# CloudTrail's key names so that the record is readable as CloudTrail at all.
CT_KEYS = ['eventVersion', 'userIdentity', 'eventTime', 'eventSource', 'eventName', 'awsRegion',
           'sourceIPAddress', 'userAgent', 'requestParameters', 'responseElements', 'requestID',
           'eventID', 'readOnly', 'eventType', 'managementEvent', 'recipientAccountId',
           'eventCategory', 'errorCode', 'errorMessage', 'additionalEventData', 'sessionContext',
           'sessionIssuer', 'principalId', 'accountId', 'accessKeyId', 'userName', 'invokedBy',
           'sharedEventID', 'vpcEndpointId', 'tlsDetails', 'resources', 'serviceEventDetails',
           'mfaAuthenticated', 'creationDate', 'webIdFederationData', 'attributes']
LOWER = {k.lower(): k for k in CT_KEYS}


def restore_keys(o):
    if isinstance(o, dict):
        return {LOWER.get(k, k) if k == k.lower() else k: restore_keys(v) for k, v in o.items()}
    if isinstance(o, list):
        return [restore_keys(x) for x in o]
    return o


def run_harrier(log, tag):
    if isinstance(log, str):
        log = json.loads(log)
    log = dict(log)
    if 'eventName' not in log and 'eventname' in log:
        log = restore_keys(log)
        log.pop('eventTime', None)  # "2022-07-17 04:50:23" is not RFC 3339; the default below is used
    log.setdefault('eventTime', '2024-01-01T00:00:00Z')
    log.setdefault('eventVersion', '1.08')
    p = os.path.join(CASES, tag + '.jsonl')
    with open(p, 'w') as f:
        f.write(json.dumps(log) + '\n')
    out = subprocess.run([HARRIER, 'detect', p, '--format', 'json'], capture_output=True, text=True).stdout
    return sorted({json.loads(l)['rule'] for l in out.splitlines() if l.strip().startswith('{')})


def py_names(py):
    names = []
    # strings compared with eventName, and any quoted CamelCase string that is an API name
    for t in re.findall(r'["\']([A-Za-z][A-Za-z0-9]*)["\']', py):
        if C.is_api(t) and t not in names:
            names.append(t)
    # verb prefixes matched with startswith (e.g. "Attach", "Delete"): kept as "Attach*", never matched
    if 'startswith' in py:
        for t in re.findall(r'["\']([A-Z][a-z]+)["\']', py):
            if t in PREFIX_VERBS and t + '*' not in names:
                names.append(t + '*')
    return names


PREFIX_VERBS = {'Add', 'Attach', 'Change', 'Create', 'Deactivate', 'Delete', 'Detach', 'Enable', 'Disable',
                'Put', 'Remove', 'Set', 'Update', 'Upload', 'Get', 'List', 'Describe', 'Modify', 'Start',
                'Stop', 'Batch', 'Generate', 'Import', 'Export', 'Restore', 'Revoke', 'Authorize'}


STATE_RE = re.compile(r'get_string_set|put_string_set|increase_counter|get_counter|set_key_expiration|check_account_age')


def main():
    index = C.load_harrier()
    hsvcs = C.harrier_services(index)
    files = [f for f in subprocess.check_output(['git', '-C', R, 'ls-tree', '-r', '--name-only', 'HEAD',
             'rules/aws_cloudtrail_rules/'], text=True).split() if f.endswith('.yml')]
    docs = {f: yaml.safe_load(git_show(f)) for f in files}
    by_id = {d.get('RuleID'): (f, d) for f, d in docs.items()}
    rows, debug = [], []
    for f, d in docs.items():
        py = git_show(f.rsplit('/', 1)[0] + '/' + d['Filename']) if d.get('Filename') else ''
        py = py or ''
        tests = d.get('Tests') or []
        true_logs = [t['Log'] for t in tests if t.get('ExpectedResult') is True and 'Log' in t]
        true_logs = [json.loads(l) if isinstance(l, str) else l for l in true_logs]
        apis = py_names(py)
        for l in true_logs:
            n = l.get('eventName')
            if n and n not in apis and (C.is_api(n, in_action=True) or C.CAMEL.match(n)):
                apis.append(n)
        srcs = set(re.findall(r'[a-z0-9-]+\.amazonaws\.com', py)) | {l['eventSource'] for l in true_logs if l.get('eventSource')}
        thr = d.get('Threshold') or 1
        is_corr = d.get('AnalysisType') == 'correlation_rule'
        if is_corr:
            # eventNames of the rules it correlates
            for g in (d.get('Detection') or [{}])[0].get('Group', []) + (d.get('Detection') or [{}])[0].get('Sequence', []):
                sub = by_id.get(g.get('RuleID'))
                if sub:
                    sf, sd = sub
                    spy = git_show(sf.rsplit('/', 1)[0] + '/' + sd['Filename']) or ''
                    for n in py_names(spy):
                        if n not in apis:
                            apis.append(n)
                    srcs |= set(re.findall(r'[a-z0-9-]+\.amazonaws\.com', spy))
            typ = 'correlation rule'
        else:
            typ = f'threshold {thr}' if thr > 1 else 'per event'
        uses_cache = bool(STATE_RE.search(py))
        if uses_cache:
            typ += ' (uses cache)'
        # step 1: test events through Harrier
        fired = {}
        for i, log in enumerate(true_logs):
            for r in run_harrier(log, f"{d['RuleID']}.{i}"):
                fired[r] = fired.get(r, 0) + 1
        n = len(true_logs)
        how, why = '', ''
        if fired:
            cov = ', '.join(f'{r} ({k}/{n} true cases)' for r, k in sorted(fired.items(), key=lambda x: (-x[1], x[0])))
            how = 'tests'
        else:
            hits = C.by_api(index, apis)
            if hits:
                cov, how = C.fmt_api_hits(index, hits), 'api'
            else:
                cov = ''
                stateful = thr > 1 or is_corr or uses_cache
                why = C.reason(stateful, apis, srcs or C.services_of(apis), hsvcs)
                if not apis:
                    why += ' (no eventName in the rule)'
        rows.append([f.rsplit('/', 1)[-1] + ' ' + str(d.get('RuleID')), d.get('DisplayName') or d.get('RuleID'), typ,
                     ','.join(apis), cov, why])
        debug.append(dict(file=f, rule_id=d.get('RuleID'), type=typ, apis=apis, srcs=sorted(srcs), n_true=n,
                          fired=fired, how=how, reason=why, enabled=d.get('Enabled')))
    with open(os.path.join(OUT, 'panther.tsv'), 'w') as o:
        o.write('\t'.join(['anchor_rule', 'name', 'type', 'event_names', 'harrier_rules', 'reason_if_none']) + '\n')
        for row in rows:
            o.write('\t'.join(str(c).replace('\t', ' ').replace('\n', ' ') for c in row) + '\n')
    json.dump(debug, open(os.path.join(OUT, 'panther_debug.json'), 'w'), indent=1)
    print(len(rows))


if __name__ == '__main__':
    main()

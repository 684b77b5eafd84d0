"""Shared pieces: Harrier rule index (macros/lists expanded), API-name filter, service sets, reasons."""
import os
OUT = os.environ.get('ANCHORS_OUT', '/tmp/anchors')
os.makedirs(OUT, exist_ok=True)
import glob, json, re, yaml, os

HARRIER_RULES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'rules', 'aws')
UNIVERSE = json.load(open(os.path.join(OUT, 'api_universe.json')))  # botocore op -> eventSource hosts
# Event names that are not botocore operations but are real CloudTrail eventNames.
EXTRA_EVENT_NAMES = {
    'ConsoleLogin', 'CheckMfa', 'SwitchRole', 'ExitRole', 'RenewRole', 'GetSigninToken',
    'PasswordRecoveryRequested', 'PasswordRecoveryCompleted', 'CredentialChallenge',
    'CredentialVerification', 'UserAuthentication', 'Authenticate', 'Federate',
    'GetRoleCredentials', 'ListAccounts', 'ListAccountRoles', 'Logout', 'PutImage',
    'InitiateLayerUpload', 'UploadLayerPart', 'CompleteLayerUpload', 'GetAuthorizationToken',
    'AssumeRoot', 'GetFederationToken', 'CreateToken', 'StartDeviceAuthorization',
    'RegisterClient', 'SetDefaultPolicyVersion', 'UpdateAccountPasswordPolicy',
    'PutFoundationModelEntitlement', 'PutUseCaseForModelAccess', 'CreateFoundationModelAgreement',
    'InvokeModel', 'InvokeModelWithResponseStream', 'Converse', 'ConverseStream',
    # S3's bucket-level CloudTrail names that botocore spells otherwise.
    'PutBucketPublicAccessBlock', 'DeleteBucketPublicAccessBlock', 'GetBucketPublicAccessBlock',
    'PasswordUpdated',
}
LAMBDA_VERSIONED = re.compile(r'^[A-Z][A-Za-z]+20\d{6}(v\d+)?$')
CAMEL = re.compile(r'^[A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+$|^[A-Z][a-z0-9]+$')
NOT_API = {'Root', 'IAMUser', 'AssumedRole', 'FederatedUser', 'AWSService', 'AwsApiCall',
           'AwsConsoleSignIn', 'AwsServiceEvent', 'Success', 'Failure', 'Management', 'Data',
           'ReadOnly', 'WriteOnly', 'All', 'Allow', 'Deny', 'Effect', 'Action', 'Principal',
           'Resource', 'Statement', 'Version', 'Condition', 'Enabled', 'Disabled', 'Active',
           'Inactive', 'Yes', 'No', 'True', 'False', 'None', 'Unknown', 'Amazon', 'AWS',
           'Owner', 'Any', 'Other', 'Sid', 'Service', 'Admin', 'Error', 'Count', 'Notice',
           'Warning', 'Critical', 'High', 'Medium', 'Low', 'Info', 'Name', 'Value', 'Tags',
           'Key', 'Type', 'User', 'Role', 'Group', 'Policy', 'Event', 'Events', 'Query',
           'Search', 'Scan', 'Publish', 'Subscribe', 'Invoke', 'Sign', 'Verify', 'Decrypt',
           'Encrypt'}
# single-word operations kept only when they appear as an event.action / eventName value
SINGLE_WORD_OK_IN_ACTION = {'Decrypt', 'Encrypt', 'Sign', 'Verify', 'Invoke', 'Publish', 'Subscribe',
                            'Scan', 'Query', 'Search', 'Converse', 'Federate', 'Authenticate', 'Logout'}


def is_api(tok, in_action=False):
    if in_action and tok in SINGLE_WORD_OK_IN_ACTION:
        return True
    if tok in NOT_API or not CAMEL.match(tok):
        return False
    if not in_action and re.match(r'^[A-Z][a-z0-9]+$', tok):
        return False  # a lone capitalised word is an API name only where it is an event.action value
    return tok in UNIVERSE or tok in EXTRA_EVENT_NAMES or bool(LAMBDA_VERSIONED.match(tok))


def services_of(apis):
    out = set()
    for a in apis:
        base = re.sub(r'20\d{6}(v\d+)?$', '', a)
        out |= set(UNIVERSE.get(a) or UNIVERSE.get(base) or [])
    return out


def norm_host(h):
    return h.lower().replace('api.ecr.', 'ecr.').replace('s3-control.', 's3.')


# ---------------------------------------------------------------- Harrier index
def load_harrier():
    items = []
    for f in sorted(glob.glob(os.path.join(HARRIER_RULES, '*.yaml'))):
        for it in yaml.safe_load(open(f)) or []:
            if isinstance(it, dict):
                it['_file'] = os.path.basename(f)
                items.append(it)
    lists = {i['list']: i.get('items') or [] for i in items if 'list' in i}
    macros = {i['macro']: i['condition'] for i in items if 'macro' in i}
    rules = [i for i in items if 'rule' in i]

    def expand(text, depth=0):
        if depth > 20:
            return text
        changed = False
        def rep(m):
            nonlocal changed
            w = m.group(0)
            if w in macros:
                changed = True
                return '(' + macros[w] + ')'
            if w in lists:
                changed = True
                return ', '.join(str(x) for x in lists[w])
            return w
        out = re.sub(r'[A-Za-z_][A-Za-z0-9_]*', rep, text)
        return expand(out, depth + 1) if changed else out

    index = {}
    for r in rules:
        cond = expand(' '.join(str(r['condition']).split()))
        # a name inside "not ct.name in (...)" / "not ct.name = X" is an exclusion, not coverage
        positive = re.sub(r'not\s+ct\.name\s+in\s*\([^)]*\)', ' ', cond)
        positive = re.sub(r'not\s+ct\.name\s*=\s*\S+', ' ', positive)
        toks = set(re.findall(r'[A-Za-z][A-Za-z0-9]*', positive))
        apis = {t for t in toks if is_api(t, in_action=True)}
        srcs = {norm_host(s) for s in re.findall(r'[a-z0-9-]+\.amazonaws\.com', cond)}
        index[r['rule']] = dict(file=r['_file'], expanded=cond, tokens=toks, apis=apis, srcs=srcs,
                                enabled=r.get('enabled', True))
    return index


def harrier_services(index):
    """Services Harrier's pack mentions: ct.src literals, eventSources of its own test events,
    and the service of every API name it names that belongs to a single service."""
    svcs = set()
    for v in index.values():
        svcs |= v['srcs']
        for a in v['apis']:
            s = {norm_host(h) for h in services_of([a])}
            if len(s) == 1:
                svcs |= s
    for f in glob.glob(os.path.join(HARRIER_RULES, 'tests', '*.json')):
        for case in json.load(open(f)):
            ev = case.get('event') or {}
            if case.get('rule') in index and ev.get('eventSource'):
                svcs.add(norm_host(ev['eventSource']))
    return svcs


def by_api(index, apis):
    hits = []
    for name, v in index.items():
        if v['tokens'] & set(apis):
            hits.append(name)
    return hits


def fmt_api_hits(index, hits):
    return ', '.join(f"{h} (by API{', disabled by default' if not index[h]['enabled'] else ''})" for h in hits)


R_BASE = 'needs a baseline or count (anomaly/threshold rule)'
R_SVC = "service not covered by Harrier's pack"
R_READ = 'read-only/enumeration call (left out on purpose)'
R_TODO = 'not covered yet'


def reason(stateful, apis, anchor_svcs, hsvcs):
    if stateful:
        return R_BASE
    if anchor_svcs and not ({norm_host(s) for s in anchor_svcs} & hsvcs):
        return R_SVC
    if apis and all(re.match(r'(Get|List|Describe)', a) for a in apis):
        return R_READ
    return R_TODO

"""API-name universe from botocore service models: op name -> set of eventSource hosts."""
import os
OUT = os.environ.get('ANCHORS_OUT', '/tmp/anchors')
os.makedirs(OUT, exist_ok=True)
import botocore.session, json, collections
s = botocore.session.get_session()
ops = collections.defaultdict(set)
for svc in s.get_available_services():
    m = s.get_service_model(svc)
    meta = m.metadata
    hosts = {f"{meta.get('endpointPrefix', svc)}.amazonaws.com"}
    if meta.get('signingName'): hosts.add(f"{meta['signingName']}.amazonaws.com")
    for op in m.operation_names:
        ops[op] |= hosts
json.dump({k: sorted(v) for k, v in ops.items()}, open(os.path.join(OUT, 'api_universe.json'), 'w'))
print(len(ops))

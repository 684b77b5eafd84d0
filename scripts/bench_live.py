"""Live-ingestion benchmark (run by scripts/bench-live, which starts moto and builds harrier).

1. S3 backfill: COPIES copies of the Invictus IR CloudTrail corpus, each under its own account in
   CloudTrail's key layout, gzipped, in a moto bucket and in a local directory with the same
   files. `harrier detect s3://...` and `harrier detect <dir>` run on the same files in the same
   run; events/s of each and their ratio are printed.
2. Latency: `harrier serve --config` with an SQS source and a file output; ROUNDS times, a
   CloudTrail file holding one StopLogging event (a fresh eventID each time) is put in the
   bucket and announced on the queue; the time from SendMessage to the alert's line in the
   output file is measured. Median and worst are printed.
"""
import gzip
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import boto3

endpoint, harrier, shared = sys.argv[1], sys.argv[2], sys.argv[3]
copies = int(os.environ.get("COPIES", "10"))
rounds = int(os.environ.get("ROUNDS", "20"))
env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
           AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1")
env.pop("AWS_ENDPOINT_URL", None)
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")

work = tempfile.mkdtemp()
local = os.path.join(work, "local")
s3.create_bucket(Bucket="bench")
inv = os.path.join(shared, "corpus/cloudtrail/invictus-ir")
files = sorted(f for f in os.listdir(inv) if f.endswith(".json"))
total_bytes = 0
for c in range(copies):
    account = f"{218007301253 + c:012d}"
    for f in files:
        stamp = f.split("_")[3]
        key = (f"AWSLogs/{account}/CloudTrail/us-east-1/{stamp[0:4]}/{stamp[4:6]}/{stamp[6:8]}/"
               + f.replace("218007301253", account) + ".gz")
        with open(os.path.join(inv, f), "rb") as fh:
            raw = fh.read()
        total_bytes += len(raw)
        body = gzip.compress(raw)
        s3.put_object(Bucket="bench", Key=key, Body=body)
        path = os.path.join(local, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as out:
            out.write(body)
print(f"corpus: {copies * len(files)} files, {total_bytes / 1048576:.1f} MiB uncompressed")


def detect(args):
    t = time.perf_counter()
    p = subprocess.run([harrier, "detect", "--format", "json", *args], env=env,
                       capture_output=True, text=True)
    el = time.perf_counter() - t
    m = re.search(r"(\d+) record\(s\)", p.stderr)
    if p.returncode not in (0, 1) or not m:
        sys.exit(f"detect failed: {p.stderr}")
    return el, int(m.group(1)), len(p.stdout.splitlines())


# Warm the page cache and moto once, then measure.
detect([local])
l_el, l_ev, l_al = min(detect([local]) for _ in range(3))
s_el, s_ev, s_al = min(detect(["s3://bench", "--endpoint-url", endpoint]) for _ in range(3))
assert (l_ev, l_al) == (s_ev, s_al), ((l_ev, l_al), (s_ev, s_al))
print(f"local files: {l_ev} events, {l_al} alerts in {l_el:.2f} s = {l_ev / l_el:,.0f} events/s")
print(f"S3 backfill (moto): {s_ev} events in {s_el:.2f} s = {s_ev / s_el:,.0f} events/s "
      f"= {l_el / s_el:.2f}x local")

# Latency.
q = sqs.create_queue(QueueName="bench-in")["QueueUrl"]
out = os.path.join(work, "alerts.jsonl")
cfg = os.path.join(work, "harrier.yaml")
with open(cfg, "w") as fh:
    fh.write(f"state_dir: {work}/state\naws: {{ endpoint_url: \"{endpoint}\" }}\n"
             f"sources:\n  - {{ type: sqs, queue_url: \"{q}\", wait_seconds: 20 }}\n"
             f"outputs:\n  - {{ type: file, path: \"{out}\" }}\n")
proc = subprocess.Popen([harrier, "serve", "--config", cfg], env=env,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(2)
template = json.load(open(os.path.join(shared,
                    "corpus/cloudtrail/stratus-red-team/aws.defense-evasion.cloudtrail-stop.json")))
lat = []
for i in range(rounds):
    rec = dict(template[0], eventID=f"bench-{i}-{time.time_ns()}")
    key = f"AWSLogs/111122223333/CloudTrail/us-east-1/2024/07/31/111122223333_CloudTrail_us-east-1_20240731T1305Z_b{i}.json.gz"
    s3.put_object(Bucket="bench", Key=key, Body=gzip.compress(json.dumps({"Records": [rec]}).encode()))
    before = sum(1 for _ in open(out)) if os.path.exists(out) else 0
    t = time.perf_counter()
    sqs.send_message(QueueUrl=q, MessageBody=json.dumps({"s3Bucket": "bench", "s3ObjectKey": [key]}))
    while (sum(1 for _ in open(out)) if os.path.exists(out) else 0) <= before:
        time.sleep(0.002)
        if time.perf_counter() - t > 30:
            sys.exit("no alert within 30 s")
    lat.append((time.perf_counter() - t) * 1000)
proc.terminate()
proc.wait()
print(f"SQS message -> alert in the file output: median {statistics.median(lat):.0f} ms, "
      f"worst {max(lat):.0f} ms over {rounds} messages")
shutil.rmtree(work)

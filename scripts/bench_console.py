"""The console at scale: 1,000,000 alerts and 10,000 failing posture findings in the state
directory, then every page and API call timed (median and worst of 15) beside /healthz on the
same listener. Usage: bench_console.py HARRIER_BINARY REPO [ALERTS]."""
import http.cookiejar
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

harrier, repo = sys.argv[1], sys.argv[2]
n_alerts = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
d = tempfile.mkdtemp(prefix="harrier-bench-console-")
run = lambda *a: subprocess.run([harrier, *a], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

# The real thing first (the schema, 25 real alerts, the incident, two posture scans).
run("detect", f"{repo}/samples/", "--incidents", "--store", "--state-dir", d, "-o", "/dev/null")
snap = f"{d}/snap.json"
run("posture", "import", f"{repo}/../shared/corpus/posture/cloudmapper-demo/account-data/demo", "-o", snap)
run("posture", "evaluate", snap, "--record", "--state-dir", d)

t0 = time.time()
db = sqlite3.connect(f"{d}/alerts.db")
real = db.execute("SELECT rule, priority, source, json, event FROM alerts WHERE event IS NOT NULL").fetchall()
rng = random.Random(7)
start_ns = 1_760_000_000 * 10**9
principals = [f"arn:aws:iam::{100000000000 + i % 40}:user/u{i}" for i in range(2000)]
regions = ["us-east-1", "eu-west-1", "ap-northeast-1", "us-west-2"]
words = ["xmrig", "kworkerd", "policy", "bucket", "secret", "exec", "login", "trail"]

def rows():
    for i in range(n_alerts):
        rule, prio, src, js, ev = real[i % len(real)]
        p = principals[rng.randrange(len(principals))]
        yield (f"bench{i:08d}", start_ns + i * 7_000_000_000, start_ns, rule, prio, src,
               f"{rule}\x1f{p}", 0, js, p, f"res-{i % 5000}", p.split(":")[4], regions[i % 4], None,
               f"{rule} {words[i % len(words)]} {p}")

db.execute("BEGIN")
cur = db.cursor()
batch = []
for r in rows():
    batch.append(r)
    if len(batch) == 20000:
        cur.executemany("INSERT INTO alerts (id, time_ns, stored_ns, rule, priority, source, throttle_key, suppressed, json, principal, resource, account, region, event) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", [b[:14] for b in batch])
        first = db.execute("SELECT last_insert_rowid()").fetchone()[0] - len(batch) + 1
        cur.executemany("INSERT INTO alerts_text (rowid, body) VALUES (?, ?)", [(first + k, b[14]) for k, b in enumerate(batch)])
        batch.clear()
if batch:
    cur.executemany("INSERT INTO alerts (id, time_ns, stored_ns, rule, priority, source, throttle_key, suppressed, json, principal, resource, account, region, event) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", [b[:14] for b in batch])
    first = db.execute("SELECT last_insert_rowid()").fetchone()[0] - len(batch) + 1
    cur.executemany("INSERT INTO alerts_text (rowid, body) VALUES (?, ?)", [(first + k, b[14]) for k, b in enumerate(batch)])
# What Store::insert keeps per rule in the same transaction.
db.execute("INSERT OR REPLACE INTO alert_rule_counts (rule, n) SELECT rule, COUNT(*) FROM alerts GROUP BY rule")
db.execute("INSERT OR REPLACE INTO alert_day_counts (day, priority, n) SELECT time_ns / 86400000000000, priority, COUNT(*) FROM alerts WHERE suppressed = 0 GROUP BY 1, 2")
db.commit()
db.execute("ANALYZE")
db.close()

pdb = sqlite3.connect(f"{d}/posture.db")
scan = pdb.execute("SELECT MAX(id) FROM scans").fetchone()[0]
checks = [r[0] for r in pdb.execute("SELECT DISTINCT check_id FROM findings")]
pdb.executemany("INSERT INTO findings (scan_id, check_id, region, resource, status, reason) VALUES (?,?,?,?,?,?)",
                [(scan, checks[i % len(checks)], regions[i % 4], f"arn:aws:s3:::bucket-{i}", "fail", "bench") for i in range(10_000)])
pdb.execute("UPDATE scans SET fail = fail + 10000 WHERE id = ?", (scan,))
pdb.commit()
pdb.close()
fill_s = time.time() - t0

port = 18000 + os.getpid() % 1000
with open(f"{d}/serve.yaml", "w") as f:
    f.write(f"state_dir: {d}\nconsole:\n  listen: 127.0.0.1:{port}\n")
proc = subprocess.Popen([harrier, "serve", "--config", f"{d}/serve.yaml"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
password = None
for line in proc.stderr:
    if "with password " in line:
        password = line.split("with password ")[1].split()[0]
    if "console at" in line:
        break
base = f"http://127.0.0.1:{port}"
jar = http.cookiejar.CookieJar()
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
try:
    opener.open(base + "/login", data=urllib.parse.urlencode({"user": "admin", "password": password}).encode())
except urllib.error.HTTPError as e:
    assert e.code == 303, e.code

first_id = json.loads(opener.open(base + "/api/v1/alerts?limit=1").read())["items"][0]["id"]
deep = json.loads(opener.open(base + "/api/v1/alerts?limit=1&cursor=500000").read())["items"][0]["seq"]
calls = [
    "/healthz", "/", "/api/v1/overview", "/alerts", "/api/v1/alerts",
    f"/api/v1/alerts?cursor={deep}", "/api/v1/alerts?principal=" + urllib.parse.quote(principals[3]),
    "/api/v1/alerts?account=100000000007&region=eu-west-1", "/api/v1/alerts?priority=critical&rule=" + urllib.parse.quote(real[0][0]),
    "/api/v1/alerts?q=xmrig", "/api/v1/alerts?q=kworkerd+u77", "/api/v1/alerts?since=2026-01-01&until=2026-01-02",
    f"/alerts/{first_id}", f"/api/v1/alerts/{first_id}", "/incidents", "/api/v1/incidents",
    "/posture", "/api/v1/posture", "/images", "/rules", "/api/v1/rules",
]
print(f"state: {n_alerts} alerts + 25 real, 10,000 failing findings (filled in {fill_s:.0f} s)")
print("| call | median ms | worst ms | x /healthz |")
print("|---|---:|---:|---:|")
base_ms = None
for c in calls:
    times = []
    for _ in range(15):
        t = time.perf_counter()
        opener.open(base + c).read()
        times.append((time.perf_counter() - t) * 1000)
    med, worst = statistics.median(times), max(times)
    base_ms = base_ms or med
    print(f"| `{c[:70]}` | {med:.1f} | {worst:.1f} | {med / base_ms:.0f}x |")
proc.terminate()
proc.wait()

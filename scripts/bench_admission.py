"""Times `harrier serve`'s admission webhook for a cached digest.

usage: bench_admission.py HARRIER [N]

Starts a docker-registry on a free port, pushes the sample backdoored image with skopeo, starts
`harrier serve` with an admission source (the test certificate of the webhook tests), asks once
so the image is scanned, then sends N reviews of a Pod running it (refused from the caches) and N
`GET /healthz` on one keep-alive HTTPS connection each (and, when ../shared has the clean
fixture, N reviews of a clean image pinned by digest), and prints medians and p99s with their
ratio to the baseline.
"""
import http.client
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

HARRIER = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "crates/harrier-cli/tests/fixtures")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(p):
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", p), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"nothing listens on {p}")


with tempfile.TemporaryDirectory() as d:
    rport, aport = free_port(), free_port()
    with open(os.path.join(d, "reg.yml"), "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {d}/data\nhttp:\n  addr: 127.0.0.1:{rport}\n")
    reg = subprocess.Popen(["docker-registry", "serve", f"{d}/reg.yml"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(rport)
    image = f"127.0.0.1:{rport}/web:1.4"
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false",
                    f"docker-archive:{ROOT}/samples/images/backdoored-web.tar", f"docker://{image}"], check=True)
    clean = os.path.join(ROOT, "../shared/image/image-archives/scalibr-basic-docker-archive.tar")
    pinned = None
    if os.path.exists(clean):
        subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false",
                        f"docker-archive:{clean}", f"docker://127.0.0.1:{rport}/api:1.0"], check=True)
        digest = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}",
                                 f"docker://127.0.0.1:{rport}/api:1.0"], check=True,
                                capture_output=True, text=True).stdout.strip()
        pinned = f"127.0.0.1:{rport}/api@{digest}"
    with open(os.path.join(d, "h.yaml"), "w") as f:
        f.write(f"state_dir: {d}/state\nsources:\n  - {{type: admission, listen: '127.0.0.1:{aport}', tls_cert: {FIX}/test-cert.pem, tls_key: {FIX}/test-key.pem}}\noutputs:\n  - {{type: file, path: {d}/alerts.jsonl}}\n")
    srv = subprocess.Popen([HARRIER, "serve", "--config", f"{d}/h.yaml"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(aport)
        ctx = ssl.create_default_context(cafile=f"{FIX}/test-ca.pem")
        def review_of(img):
            return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
                "uid": "bench", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "namespace": "web",
                "operation": "CREATE", "userInfo": {"username": "alice"},
                "object": {"metadata": {"name": "nginx"}, "spec": {"containers": [{"name": "nginx", "image": img}]}}}})
        body = review_of(image)

        def run(method, path, payload):
            c = http.client.HTTPSConnection("127.0.0.1", aport, context=ctx, timeout=60)
            times = []
            for _ in range(N):
                t = time.perf_counter()
                c.request(method, path, body=payload, headers={"Content-Type": "application/json"})
                r = c.getresponse()
                data = r.read()
                times.append(time.perf_counter() - t)
                assert r.status == 200, data
            c.close()
            return times

        first = time.perf_counter()
        run_once = http.client.HTTPSConnection("127.0.0.1", aport, context=ctx, timeout=120)
        run_once.request("POST", "/validate", body=body, headers={"Content-Type": "application/json"})
        resp = json.loads(run_once.getresponse().read())
        cold = time.perf_counter() - first
        assert resp["response"]["allowed"] is False, resp
        health = run("GET", "/healthz", None)
        review = run("POST", "/validate", body)
        allowed = None
        if pinned:
            warm = http.client.HTTPSConnection("127.0.0.1", aport, context=ctx, timeout=120)
            warm.request("POST", "/validate", body=review_of(pinned), headers={"Content-Type": "application/json"})
            assert json.loads(warm.getresponse().read())["response"]["allowed"] is True
            allowed = run("POST", "/validate", review_of(pinned))

        def q(ts, p):
            ts = sorted(ts)
            return ts[min(len(ts) - 1, int(len(ts) * p))] * 1000

        print(f"first review (pull and scan): {cold * 1000:.0f} ms")
        rows = [("GET /healthz (baseline)", health), ("cached review, refused (backdoored tag)", review)]
        if allowed:
            rows.append(("cached review, allowed (clean, pinned by digest)", allowed))
        for name, ts in rows:
            print(f"{name}: median {q(ts, 0.5):.2f} ms, p99 {q(ts, 0.99):.2f} ms over {N}"
                  f" ({q(ts, 0.99) / q(health, 0.99):.2f}x the baseline's p99)")
    finally:
        srv.terminate()
        srv.wait()
        reg.terminate()
        reg.wait()

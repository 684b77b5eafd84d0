"""Image-scan benchmark (run by scripts/bench-image): builds a docker-archive of about 150 MB
(3 gzipped layers: a Debian-like base with a dpkg database, many small text files, a few large
binaries of random bytes), then times in the same run `tar -xzf` of every layer into a temporary
directory (the baseline: what any scanner that extracts must pay) against
`harrier image scan`, and reports peak memory. Deterministic content (seeded)."""
import gzip
import hashlib
import io
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

harrier = sys.argv[1]
rng = random.Random(7)
work = tempfile.mkdtemp()


def tar_bytes(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, data, mode in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


status = "".join(f"Package: pkg{i}\nStatus: install ok installed\nVersion: 1.{i}-1\nArchitecture: amd64\n\n" for i in range(400))
words = [("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))) for _ in range(2000)]
def text(n):
    return (" ".join(rng.choice(words) for _ in range(n // 6))).encode()

base = tar_bytes([("etc/os-release", b"ID=debian\nVERSION_ID=\"12\"\n", 0o644),
                  ("var/lib/dpkg/status", status.encode(), 0o644)] +
                 [(f"usr/share/doc/pkg{i}/README", text(20000), 0o644) for i in range(2000)])
libs = tar_bytes([(f"usr/lib/x86_64-linux-gnu/lib{i}.so", rng.randbytes(400_000), 0o755) for i in range(150)])
app = tar_bytes([(f"opt/app/static/{i}.js", text(30000), 0o644) for i in range(1000)])
layers = [base, libs, app]
total = sum(len(l) for l in layers)
blobs = [gzip.compress(l, compresslevel=1, mtime=0) for l in layers]
config = json.dumps({"architecture": "amd64", "os": "linux",
                     "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(l).hexdigest() for l in layers]}}).encode()
cname = hashlib.sha256(config).hexdigest() + ".json"
members = [(f"{hashlib.sha256(l).hexdigest()}/layer.tar", b, 0o644) for l, b in zip(layers, blobs)]
manifest = json.dumps([{"Config": cname, "RepoTags": ["bench:1"], "Layers": [m for m, _, _ in members]}]).encode()
image = os.path.join(work, "image.tar")
with open(image, "wb") as f:
    f.write(tar_bytes(members + [(cname, config, 0o644), ("manifest.json", manifest, 0o644)]))
layer_files = []
for i, b in enumerate(blobs):
    p = os.path.join(work, f"layer{i}.tar.gz")
    with open(p, "wb") as f:
        f.write(b)
    layer_files.append(p)
print(f"image: {os.path.getsize(image) / 1e6:.0f} MB archive, {total / 1e6:.0f} MB uncompressed in {len(layers)} layers")


def extract():
    out = tempfile.mkdtemp(dir=work)
    t = time.perf_counter()
    for p in layer_files:
        subprocess.run(["tar", "-xzf", p, "-C", out], check=True)
    el = time.perf_counter() - t
    shutil.rmtree(out)
    return el


def scan():
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", harrier, "image", "scan", "--format", "json", image],
                       capture_output=True, text=True)
    el = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(p.stderr)
    rss = int(p.stderr.strip().splitlines()[-1])
    pkgs = len(json.loads(p.stdout)["packages"])
    return el, rss, pkgs


extract()
base_t = min(extract() for _ in range(3))
runs = [scan() for _ in range(3)]
scan_t = min(r[0] for r in runs)
rss = max(r[1] for r in runs)
print(f"tar -xzf of the layers: {base_t:.2f} s")
print(f"harrier image scan: {scan_t:.2f} s = {scan_t / base_t:.2f}x the extraction, peak RSS {rss / 1024:.0f} MB, {runs[0][2]} packages")
shutil.rmtree(work)

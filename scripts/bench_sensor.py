"""Measures the runtime sensor: see scripts/bench-sensor.

Phases, each timed without the sensor and then with it running, in the same run:
  exec:  5,000 `/bin/true` started one after another by a shell loop
  open:  1,000,000 open(O_WRONLY|O_TRUNC)+close of one file by a small C program, then two
         such programs at once (both cores)
For the runs with the sensor: kernel records and events it handled, records the kernel
dropped (ring buffer full), and the sensor's CPU time per event (user+system, from /proc).
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HARRIER = sys.argv[1]
EXECS = 5000
OPENS = 1_000_000

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


def with_sensor(cmd, tmp):
    alerts = os.path.join(tmp, "alerts.jsonl")
    p = subprocess.Popen(
        [HARRIER, "sensor", "--format", "json", "-o", alerts, "--hidden-every", "0"],
        stderr=subprocess.PIPE,
        text=True,
    )
    line = p.stderr.readline()
    if "ready" not in line:
        raise SystemExit(f"sensor did not start: {line}{p.stderr.read()}")
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
        print("| workload | without sensor | with sensor | ratio | sensor events | events/s | dropped | sensor CPU per event | sensor peak RSS |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, cmd in phases:
            base = min(timed(cmd) for _ in range(2))
            elapsed, cpu, records, events, dropped, hwm = with_sensor(cmd, tmp)
            print(
                f"| {name} | {base:.2f} s | {elapsed:.2f} s | {elapsed / base:.2f}x | {events:,} "
                f"| {events / elapsed:,.0f} | {dropped:,} | {cpu / max(events, 1) * 1e6:.2f} µs | {hwm / 1024:.0f} MB |"
            )


main()

#!/usr/bin/python3
"""Overload and soak runs against a real certgate-server (issue 7). Run through bench/overload.sh
and bench/soak.sh, which build the binaries first.

Both modes start build/certgate-server on 127.0.0.1:0 with a fresh SQLite database in the work
directory (1000 enrolled bench certificates; one request in 11 carries a certificate that is not
enrolled, so DENY rows are written too), `max_inflight: 64` by default, and first measure the
saturation throughput: closed loop, 4 connections x 12 streams (48 calls in flight, under the
bound, so nothing is refused), 5 s after 1 s of warm-up. Load is bench/load_client; the server's
VmRSS (with RssAnon/RssFile), open file descriptors (/proc/PID/fd), threads and CPU, and the
whole machine's busy CPU, are sampled by this script from /proc while the load runs; the samples
go to bench/work/MODE-samples.csv, the figures to bench/work/MODE-result.json. The client and the
server share the machine: a CPU table per phase shows the server, load_client and everything
else (another process's load makes the figures contended; --wait-quiet S first waits up to S
seconds for an idle machine).

CPUs (--pin, default auto): the server runs on one CPU and the load generator on the others, so
saturation and overload are measured with the same CPUs (unpinned, the generator takes up to a
core from the server at 2 x and the server's capacity during the overload is not the capacity
that was measured). --pin off shares them.

overload: baseline (open loop at 0.5 x saturation, 10 s) -> overload (open loop at --factor x
  saturation, default 2, for --duration s, default 60; an admin call is made in the middle) -> recovery (0.5 x,
  three 5 s runs). Checks, each printed with its result (exit 1 if one fails):
    - the server is alive after every phase, reports SERVING (grpc.health.v1) at the end, and
      exits 0 on SIGTERM;
    - overload: every failed call is RESOURCE_EXHAUSTED (the admission bound), none other; the
      load generator kept up (no sends skipped at its cap of 20000 outstanding calls: when the
      client falls behind, load_client counts "skipped" sends and the run is not valid); goodput
      (answered decisions/s) stays >= 50 % of saturation (no collapse);
    - the admin API answers during the overload (it is not subject to the bound);
    - recovered, 10-15 s after the overload: failed calls <= the larger share of the baseline
      and of a control + 1 point (at half load a few calls are refused too, when an fsync stall
      holds 64 calls in flight), and p99 latency <= 3 x the larger p99 of the two + 10 ms; the
      first 5 s are reported. The control is a fresh certgate-server on the same database after
      the run, 5 s at half load: the baseline ran on a database ten times smaller, and the
      control shows what the disk and the grown database do to any process;
    - audit: every ALLOW the clients received has its committed row (ALLOW rows of kind
      'authorize' >= allows received; same for DENY); the equality is reported too;
    - memory: after a 10 s warm-up, the median RssAnon (the heap: where a leak or calls queued
      without bound show) of the last 10 s of the overload phase is <= 1.20 x the median of the
      10 s that follow the warm-up + 16 MiB (growth that continues while the offered load is
      constant; a one-off step of the allocator or a bounded cache passes), and its peak is
      <= --heap-limit-mib (default 160: the server holds at most max_streams_per_connection x
      connections calls, whatever the offered load). VmRSS is reported: it also counts SQLite's
      memory map of the database file (RssFile), which swings by tens of MiB between samples;
    - fds: the maximum during the overload is <= the baseline phase's maximum + 16, and the count
      when idle at the end is <= the idle count before any load + 4.

soak: open loop at 0.5 x saturation for --duration s (default 600), in load_client runs of
  --chunk s (default 60; every chunk opens new connections, so connection set-up and tear-down
  are soaked too), sampling every --interval s (default 5). Prints first/last/max and a
  least-squares slope per minute for VmRSS, RssAnon and fds, and per-chunk throughput and
  latency. Checks: no failed call other than RESOURCE_EXHAUSTED (those are reported), audit rows
  as above, server healthy and exit 0, and after a warm-up of --warmup-s (default 120 s):
    - VmRSS: the median of the last 60 s <= 1.10 x the median of the first 60 s after warm-up;
    - RssAnon: least-squares slope after warm-up <= 1 MiB/min (a leak of that rate is 1.4 GiB
      a day; SQLite's page caches, up to 32 MiB per connection, fill slowly as the audit table
      grows, so a 10-minute soak cannot tell a much slower leak from them);
    - fds: the maximum of the last 60 s <= the maximum of the first 60 s after warm-up.
"""
import argparse
import csv
import json
import os
import resource
import signal
import sqlite3
import statistics
import struct
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")
CODES = {0: "OK", 1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED",
         5: "NOT_FOUND", 6: "ALREADY_EXISTS", 7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED",
         9: "FAILED_PRECONDITION", 10: "ABORTED", 11: "OUT_OF_RANGE", 12: "UNIMPLEMENTED",
         13: "INTERNAL", 14: "UNAVAILABLE", 15: "DATA_LOSS", 16: "UNAUTHENTICATED"}


def log(msg=""):
    print(msg, flush=True)


def run(cmd):
    return subprocess.run(cmd, check=True, text=True, capture_output=True)


def mib(kb):
    return kb / 1024.0


# ---------------------------------------------------------------------------------------------
# /proc


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon", "RssFile", "Threads"):
                out[k] = int(v.split()[0])
    return out


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def machine_busy_s():
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is already in user and nice)
    return (sum(v[:8]) - v[3] - v[4]) / CLK_TCK


class Sampler(threading.Thread):
    """Samples the server every `interval` seconds until stopped; `phase` tags each sample."""

    def __init__(self, pid, db, interval):
        super().__init__(daemon=True)
        self.pid, self.db, self.interval = pid, db, interval
        self.phase = "idle"
        self.samples = []
        self.error = None
        self._halt = threading.Event()
        self.t0 = time.monotonic()

    def run(self):
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        nxt = time.monotonic()
        try:
            while not self._halt.is_set():
                st = proc_status(self.pid)
                rows = conn.execute("SELECT coalesce(max(id), 0) FROM audit_events").fetchone()[0]
                self.samples.append({
                    "t": round(time.monotonic() - self.t0, 3), "phase": self.phase,
                    "rss_kb": st.get("VmRSS", 0), "anon_kb": st.get("RssAnon", 0),
                    "file_kb": st.get("RssFile", 0), "threads": st.get("Threads", 0),
                    "fds": proc_fds(self.pid), "cpu_s": round(proc_cpu_s(self.pid), 2),
                    "machine_busy_s": round(machine_busy_s(), 2),
                    "loadavg": float(open("/proc/loadavg").read().split()[0]),
                    "audit_rows": rows})
                nxt += self.interval
                self._halt.wait(max(0.0, nxt - time.monotonic()))
        except (FileNotFoundError, ProcessLookupError) as e:  # the server is gone
            self.error = f"sampling stopped: {e}"
        finally:
            conn.close()

    def stop(self):
        self._halt.set()
        self.join()

    def write_csv(self, path):
        keys = ["t", "phase", "rss_kb", "anon_kb", "file_kb", "threads", "fds", "cpu_s",
                "machine_busy_s", "loadavg", "audit_rows"]
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(self.samples)


# ---------------------------------------------------------------------------------------------
# Preparation and the server


def read_frames(path):
    data = open(path, "rb").read()
    out, i = [], 0
    while i < len(data):
        n = struct.unpack(">I", data[i + 1:i + 5])[0]
        out.append(data[i:i + 5 + n])
        i += 5 + n
    return out


def prepare(a):
    """CA, 1000 enrolled + 100 never-enrolled certificates, the request file, the database."""
    tool = f"{a.build}/bench/bench_tool"
    w = a.work
    run([tool, "ca", "--out-cert", f"{w}/ca.pem", "--out-key", f"{w}/ca.key"])
    ca = ["--ca-cert", f"{w}/ca.pem", "--ca-key", f"{w}/ca.key"]
    run([tool, "mint", *ca, "--count", "1000", "--first-serial", "1000000", "--ou", "enrolled",
         "--out", f"{w}/enrolled.certs"])
    run([tool, "mint", *ca, "--count", "100", "--first-serial", "9000000", "--ou", "stray",
         "--out", f"{w}/stray.certs"])
    for name in ("enrolled", "stray"):
        run([tool, "requests", "--certs", f"{w}/{name}.certs", "--encoding", "xfcc", "--out",
             f"{w}/{name}.req"])
    good, bad = read_frames(f"{w}/enrolled.req"), read_frames(f"{w}/stray.req")
    with open(f"{w}/mix.req", "wb") as f:  # 10 enrolled, 1 stray, repeated
        for i, fr in enumerate(good):
            f.write(fr)
            if i % 10 == 9:
                f.write(bad[(i // 10) % len(bad)])
    db = f"{w}/certgate.db"
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    run([tool, "enroll", "--db", db, "--certs", f"{w}/enrolled.certs", "--users", "100"])
    return f"{w}/mix.req", db


def pin(cpus):
    """preexec_fn that confines a child to `cpus` (None: no pinning)."""
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def split_cpus(spec):
    """--pin: 'auto' gives the server the first CPU this process may use and the load generator
    the others (2 CPUs or more); 'off' shares them all; 'S:C' takes explicit lists ('0:1-3')."""
    mine = sorted(os.sched_getaffinity(0))
    if spec == "off" or (spec == "auto" and len(mine) < 2):
        return None, None
    if spec == "auto":
        return [mine[0]], mine[1:]

    def cpuset(text):
        out = set()
        for part in text.split(","):
            lo, _, hi = part.partition("-")
            out.update(range(int(lo), int(hi or lo) + 1))
        return out
    server, _, client = spec.partition(":")
    return sorted(cpuset(server)), sorted(cpuset(client))


class Server:
    """certgate-server started by us; stopped by its own pid only."""

    def __init__(self, a, db):
        self.cfg = f"{a.work}/certgate.yaml"
        self.admin_socket = f"{a.work}/admin.sock"
        with open(self.cfg, "w") as f:
            f.write(f"""listen: 127.0.0.1:0
admin_socket: {self.admin_socket}
database: {db}
log_level: warn
max_inflight: {a.max_inflight}
max_streams_per_connection: {a.max_streams}
forwarders:
  - {{name: bench, addresses: [127.0.0.1]}}
""")
        self.logfile = f"{a.work}/certgate.log"
        self.out = open(self.logfile, "w")
        self.proc = subprocess.Popen([f"{a.build}/certgate-server", "--config", self.cfg],
                                     stdout=self.out, stderr=subprocess.STDOUT, text=True,
                                     preexec_fn=pin(a.server_cpus))
        self.pid = self.proc.pid
        self.port = None
        deadline = time.time() + 60
        while time.time() < deadline and self.port is None:
            if self.proc.poll() is not None:
                raise RuntimeError("certgate-server exited: " + self.log_tail())
            for line in open(self.logfile):
                if line.startswith("certgate-server ready: listen="):
                    self.port = int(line.split()[2].split("=")[1].rsplit(":", 1)[1])
            time.sleep(0.02)
        if self.port is None:
            raise RuntimeError("certgate-server did not become ready")

    def alive(self):
        return self.proc.poll() is None

    def log_tail(self, n=3000):
        return open(self.logfile).read()[-n:]

    def stop(self, timeout=30):
        """SIGTERM; the exit code (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.out.close()
                return None
        self.out.close()
        return self.proc.returncode


def health(port):
    """grpc.health.v1.Health/Check for the whole server: the status name, or the error."""
    code = r"""
import grpc, sys
ch = grpc.insecure_channel(sys.argv[1])
call = ch.unary_unary("/grpc.health.v1.Health/Check", request_serializer=lambda b: b,
                      response_deserializer=lambda b: b)
try:
    resp = call(b"", timeout=5)
except grpc.RpcError as e:
    print("ERROR", e.code().name); sys.exit(0)
# HealthCheckResponse{status = 1}: field 1 varint
st = resp[1] if len(resp) >= 2 and resp[0] == 0x08 else 0
print({0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}.get(st, st))
"""
    p = subprocess.run(["/usr/bin/python3", "-c", code, f"127.0.0.1:{port}"], text=True,
                       capture_output=True, timeout=30)
    return (p.stdout.strip() or p.stderr.strip()[-300:])


def admin_call(a, server):
    """`certgate user list` over the admin socket: (exit code, seconds)."""
    t = time.perf_counter()
    p = subprocess.run([f"{a.build}/certgate", "--server", f"unix:{server.admin_socket}",
                        "--timeout-ms", "10000", "user", "list", "-o", "json"],
                       text=True, capture_output=True)
    return p.returncode, time.perf_counter() - t


def load(a, server, reqfile, duration, rate=0, warmup=0.0, conns=None, streams=1):
    cmd = [f"{a.build}/bench/load_client", "--target", f"127.0.0.1:{server.port}", "--requests",
           reqfile, "--connections", str(conns or a.connections), "--streams", str(streams),
           "--duration", str(duration), "--warmup", str(warmup)]
    if rate:
        cmd += ["--rate", str(int(rate))]
    p = subprocess.Popen(cmd, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=pin(a.client_cpus))
    out, err = p.communicate()
    # The generator's own CPU (it shares the machine with the server).
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        r = json.loads(out.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise RuntimeError(f"load_client failed ({p.returncode}): {err[-2000:]}")
    r["client_cpu_s"] = ru.ru_utime + ru.ru_stime - load.children_cpu
    load.children_cpu = ru.ru_utime + ru.ru_stime
    r["codes"] = {CODES.get(int(k), k): v for k, v in r["codes"].items()}
    r["offered_rate"] = rate
    r["offered_s"] = duration + warmup
    r["goodput"] = (r["allowed"] + r["denied"]) / r["elapsed_s"] if r["elapsed_s"] else 0
    return r


load.children_cpu = 0.0


def fmt_run(name, r):
    codes = ", ".join(f"{k} {v}" for k, v in sorted(r["codes"].items())) or "none"
    offered = f"offered {r['offered_rate']:.0f}/s, " if r["offered_rate"] else ""
    return (f"  {name:<10} {offered}sent {r['sent']} ({r['sent'] / r['offered_s']:.0f}/s), "
            f"completed {r['rps']:.0f}/s, goodput {r['goodput']:.0f}/s; allowed {r['allowed']}, "
            f"denied {r['denied']}, failed {r['failed']} [{codes}], skipped {r['skipped']}; "
            f"latency p50 {r['p50'] / 1000:.1f} p99 {r['p99'] / 1000:.1f} max "
            f"{r['max'] / 1000:.1f} ms; elapsed {r['elapsed_s']:.1f} s; load_client CPU "
            f"{r['client_cpu_s'] / r['elapsed_s']:.2f} cores")


def median(vals):
    return statistics.median(vals) if vals else 0


def slope_per_min(samples, key):
    """Least-squares slope of samples[key] against time, per minute."""
    if len(samples) < 2:
        return 0.0
    xs = [s["t"] / 60.0 for s in samples]
    ys = [s[key] for s in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


def series(samples, key):
    vals = [s[key] for s in samples]
    return {"first": vals[0], "last": vals[-1], "min": min(vals), "median": median(vals),
            "max": max(vals), "slope_per_min": slope_per_min(samples, key)}


class Checks:
    def __init__(self):
        self.items = []

    def add(self, ok, what):
        self.items.append((bool(ok), what))
        log(f"  [{'ok' if ok else 'FAIL'}] {what}")

    def failed(self):
        return [w for ok, w in self.items if not ok]


def audit_counts(db):
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return dict(conn.execute("SELECT decision, count(*) FROM audit_events "
                                 "WHERE kind = 'authorize' GROUP BY decision").fetchall())
    finally:
        conn.close()


def recovery_checks(a, reqfile, db, checks, result):
    """Recovered = the overloaded server, 10-15 s after, does as well at half load as the better
    of the baseline (before the overload, on a database ten times smaller) and a control: a fresh
    certgate-server on the same database, 5 s at half load after a 1 s warm-up run. The control
    separates what the server kept from the overload (queues, memory) from what the disk and the
    grown database do to any process."""
    rc_ = result["recovery_check"]
    base, rec, first = rc_["base"], rc_["rec"], rc_["first"]
    control_server = Server(a, db)
    try:
        # The stopped server's CPU is in RUSAGE_CHILDREN now: not load_client's.
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        load.children_cpu = ru.ru_utime + ru.ru_stime
        # A fresh process starts with cold caches: 1 s of warm-up load, not counted (load_client
        # counts failures over its whole run), then the 5 s that are.
        load(a, control_server, reqfile, 1, rate=0.5 * rc_["cap"])
        control = load(a, control_server, reqfile, 5, rate=0.5 * rc_["cap"])
    finally:
        crc = control_server.stop()
    log(fmt_run("control", control))
    result["control"] = control
    checks.add(crc == 0, f"control server (fresh process, same database) exit code: {crc}")
    fb, fr, fc = failed_fraction(base), failed_fraction(rec), failed_fraction(control)
    checks.add(fr <= max(fb, fc) + 0.01,
               f"recovered 10-15 s after the overload: failed {100 * fr:.2f} % <= max(baseline "
               f"{100 * fb:.2f} %, fresh-process control {100 * fc:.2f} %) + 1 point (first 5 s: "
               f"{100 * failed_fraction(first):.2f} %)")
    ref = max(base["p99"], control["p99"])
    bound = 3 * ref + 10000
    checks.add(rec["p99"] <= bound,
               f"recovered: p99 {rec['p99'] / 1000:.1f} ms <= 3 x max(baseline "
               f"{base['p99'] / 1000:.1f}, control {control['p99'] / 1000:.1f}) ms + 10 ms = "
               f"{bound / 1000:.1f} ms (first 5 s: {first['p99'] / 1000:.1f} ms)")


def failed_fraction(r):
    return r["failed"] / r["sent"] if r["sent"] else 0.0


def cpu_table(sampler, runs, result):
    """Cores used per phase: the server, load_client, and everything else on the machine (the
    machine is shared: other processes take CPU from both and make the figures contended)."""
    log("CPU per phase (cores): server / load_client / the rest (kernel I/O and loopback, this "
        "script, any other process) / machine busy")
    out = {}
    for name, r in runs.items():
        sel = [x for x in sampler.samples if x["phase"] == name]
        if len(sel) < 2:
            continue
        dt = sel[-1]["t"] - sel[0]["t"]
        server = (sel[-1]["cpu_s"] - sel[0]["cpu_s"]) / dt
        machine = (sel[-1]["machine_busy_s"] - sel[0]["machine_busy_s"]) / dt
        client = r["client_cpu_s"] / r["elapsed_s"]
        other = max(0.0, machine - server - client)
        out[name] = {"server": server, "client": client, "other": other, "machine": machine}
        log(f"  {name:<10} {server:.2f} / {client:.2f} / {other:.2f} / {machine:.2f} of "
            f"{os.cpu_count()}")
    result["cpu"] = out


def wait_quiet(limit_s, busy_max=0.25):
    """Waits (at most limit_s) until the machine has been nearly idle for 5 s."""
    t0 = time.monotonic()
    while True:
        b0 = machine_busy_s()
        time.sleep(5)
        busy = (machine_busy_s() - b0) / 5
        waited = time.monotonic() - t0
        if busy <= busy_max:
            log(f"machine quiet ({busy:.2f} cores busy) after {waited:.0f} s")
            return busy
        if waited >= limit_s:
            log(f"WARNING: machine still busy ({busy:.2f} cores) after {waited:.0f} s: the "
                f"figures are contended")
            return busy
        log(f"  waiting for a quiet machine: {busy:.2f} cores busy")


def saturation(a, server, reqfile):
    log(f"saturation: closed loop, {a.sat_connections} connections x {a.sat_streams} streams, "
        f"{a.sat_duration} s after 1 s warm-up")
    r = load(a, server, reqfile, a.sat_duration, warmup=1.0, conns=a.sat_connections,
             streams=a.sat_streams)
    r["offered_s"] = a.sat_duration + 1.0
    log(fmt_run("saturation", r))
    if r["failed"]:
        raise RuntimeError("the saturation run had failed calls; lower --sat-streams")
    return r


# ---------------------------------------------------------------------------------------------


def run_overload(a, server, reqfile, db, sampler, checks, result):
    sat = saturation(a, server, reqfile)
    cap = sat["rps"]
    result["saturation"] = sat
    idle_fds = proc_fds(server.pid)
    phases = {}

    def phase(name, rate, duration, during=None):
        sampler.phase = name
        th = None
        if during:
            th = threading.Thread(target=during, daemon=True)
            th.start()
        r = load(a, server, reqfile, duration, rate=rate)
        if th:
            th.join()
        sampler.phase = "idle"
        phases[name] = r
        log(fmt_run(name, r))
        checks.add(server.alive(), f"{name}: server alive")
        return r

    admin = {}

    def admin_mid_overload():
        time.sleep(a.duration / 2)
        admin["rc"], admin["s"] = admin_call(a, server)

    log(f"baseline {0.5 * cap:.0f}/s for 10 s; overload {a.factor * cap:.0f}/s ({a.factor:g} x) "
        f"for {a.duration} s; "
        f"recovery {0.5 * cap:.0f}/s for 15 s (three 5 s runs)")
    base = phase("baseline", 0.5 * cap, 10)
    over = phase("overload", a.factor * cap, a.duration, during=admin_mid_overload)
    recs = [phase(f"recovery{i}", 0.5 * cap, 5) for i in (1, 2, 3)]
    rec = recs[-1]  # 10-15 s after the overload ended
    result["phases"] = phases
    cpu_table(sampler, phases, result)
    time.sleep(2)  # let the server close the last connections
    end_fds = proc_fds(server.pid)
    hs = health(server.port)
    result["health_end"] = hs
    result["admin_mid_overload"] = admin

    log("checks")
    other = {k: v for k, v in over["codes"].items() if k != "RESOURCE_EXHAUSTED"}
    checks.add(not other, f"overload: failed calls are all RESOURCE_EXHAUSTED "
               f"({over['codes'].get('RESOURCE_EXHAUSTED', 0)}; others: {other or 'none'})")
    checks.add(over["skipped"] == 0,
               f"overload: the load generator kept up ({over['skipped']} sends skipped at its "
               f"cap of 20000 outstanding calls; sent {over['sent'] / over['offered_s']:.0f}/s of "
               f"{over['offered_rate']:.0f}/s, last answer {over['elapsed_s'] - over['offered_s']:.2f} s "
               f"after the last send was due)")
    checks.add(over["goodput"] >= 0.5 * cap,
               f"overload: goodput {over['goodput']:.0f}/s >= 50 % of saturation ({cap:.0f}/s)")
    checks.add(admin.get("rc") == 0,
               f"admin API during the overload: `certgate user list` exit {admin.get('rc')} in "
               f"{admin.get('s', 0):.2f} s")
    # The recovery checks are made in main(), after the control run on a fresh process.
    result["recovery_check"] = {"cap": cap, "base": base, "rec": rec, "first": recs[0]}
    checks.add(hs == "SERVING", f"health at the end: {hs}")

    s_over = [s for s in sampler.samples if s["phase"] == "overload"]
    s_base = [s for s in sampler.samples if s["phase"] == "baseline"]
    t0 = s_over[0]["t"] if s_over else 0
    # Heap (RssAnon) is where a leak or an unbounded queue shows; VmRSS also counts the pages of
    # SQLite's memory map of the database file (RssFile), which swing by tens of MiB between
    # samples as the kernel maps and reclaims them: reported, not judged.
    ref = [s["anon_kb"] for s in s_over if 10 <= s["t"] - t0 < 20]
    last = [s["anon_kb"] for s in s_over if s["t"] - t0 >= a.duration - 10]
    if ref and last:
        bound = 1.2 * median(ref) + 16 * 1024
        checks.add(median(last) <= bound,
                   f"overload heap bounded: RssAnon median of the last 10 s {mib(median(last)):.1f} "
                   f"MiB <= 1.20 x median of s 10-20 ({mib(median(ref)):.1f} MiB) + 16 MiB = "
                   f"{mib(bound):.1f} MiB (VmRSS max {mib(max(x['rss_kb'] for x in s_over)):.1f} "
                   f"MiB)")
    else:
        checks.add(False, f"overload RSS: too few samples ({len(s_over)}) for the criterion")
    if s_over:
        # The absolute bound: the calls the server holds are bounded by max_inflight and by
        # max_streams_per_connection x connections, whatever the offered load.
        peak = max(s["anon_kb"] for s in s_over)
        checks.add(peak <= a.heap_limit_mib * 1024,
                   f"overload heap peak: RssAnon max {mib(peak):.1f} MiB <= {a.heap_limit_mib} MiB")
    if s_over and s_base:
        mb, mo = max(s["fds"] for s in s_base), max(s["fds"] for s in s_over)
        checks.add(mo <= mb + 16, f"overload fds: max {mo} <= baseline max {mb} + 16")
    checks.add(end_fds <= idle_fds + 4,
               f"fds when idle: {end_fds} at the end <= {idle_fds} before any load + 4")
    result["fds_idle_before"], result["fds_idle_after"] = idle_fds, end_fds
    return [sat, base, over] + recs


def run_soak(a, server, reqfile, db, sampler, checks, result):
    sat = saturation(a, server, reqfile)
    cap = sat["rps"]
    result["saturation"] = sat
    rate = a.soak_fraction * cap
    log(f"soak: {rate:.0f}/s ({a.soak_fraction} x saturation) for {a.duration} s in "
        f"{a.chunk} s runs, sampled every {a.interval} s")
    sampler.phase = "soak"
    chunks = []
    t_end = time.monotonic() + a.duration
    i = 0
    while True:
        left = t_end - time.monotonic()
        if left < 1:
            break
        r = load(a, server, reqfile, min(a.chunk, left), rate=rate)
        chunks.append(r)
        i += 1
        log(fmt_run(f"chunk {i}", r))
        if not server.alive():
            break
    sampler.phase = "idle"
    result["chunks"] = chunks
    if chunks:
        cpu_table(sampler, {"soak": {"client_cpu_s": sum(r["client_cpu_s"] for r in chunks),
                                     "elapsed_s": sum(r["elapsed_s"] for r in chunks)}}, result)
    time.sleep(2)
    hs = health(server.port)
    result["health_end"] = hs

    log("checks")
    codes = {}
    for r in chunks:
        for k, v in r["codes"].items():
            codes[k] = codes.get(k, 0) + v
    result["codes"] = codes
    other = {k: v for k, v in codes.items() if k != "RESOURCE_EXHAUSTED"}
    checks.add(server.alive(), "server alive after the soak")
    checks.add(not other, f"no failed call other than RESOURCE_EXHAUSTED (others: "
               f"{other or 'none'}; RESOURCE_EXHAUSTED: {codes.get('RESOURCE_EXHAUSTED', 0)})")
    checks.add(sum(r["skipped"] for r in chunks) == 0, "the load generator kept up (no skips)")
    checks.add(hs == "SERVING", f"health at the end: {hs}")

    s = [x for x in sampler.samples if x["phase"] == "soak"]
    if not s:
        checks.add(False, "no samples")
        return [sat] + chunks
    t0 = s[0]["t"]
    after = [x for x in s if x["t"] - t0 >= a.warmup_s]
    first = [x for x in after if x["t"] - t0 < a.warmup_s + 60]
    t_last = s[-1]["t"]
    last = [x for x in after if x["t"] >= t_last - 60]
    if first and last and last[0]["t"] > first[-1]["t"]:
        r0, r1 = median([x["rss_kb"] for x in first]), median([x["rss_kb"] for x in last])
        checks.add(r1 <= 1.10 * r0, f"soak RSS: median of the last 60 s {mib(r1):.1f} MiB <= 1.10 "
                   f"x median of the first 60 s after the {a.warmup_s:.0f} s warm-up "
                   f"({mib(r0):.1f} MiB)")
        # A leak-rate bound on the heap: 1 MiB/min would be 1.4 GiB a day. (SQLite's page caches,
        # up to cache_size 32 MiB per connection, fill slowly as the audit table grows.)
        slope = slope_per_min(after, "anon_kb")
        checks.add(slope <= 1024, f"soak heap: RssAnon slope after warm-up {slope / 1024:+.2f} "
                   f"MiB/min <= 1 MiB/min ({mib(after[0]['anon_kb']):.1f} -> "
                   f"{mib(after[-1]['anon_kb']):.1f} MiB)")
        f0, f1 = max(x["fds"] for x in first), max(x["fds"] for x in last)
        checks.add(f1 <= f0, f"soak fds: max of the last 60 s {f1} <= max of the first 60 s after "
                   f"warm-up {f0}")
        result["after_warmup"] = {k: series(after, k) for k in ("rss_kb", "anon_kb", "file_kb",
                                                                  "fds", "threads")}
    else:
        checks.add(False, f"soak too short for the criteria ({a.duration} s, warm-up "
                   f"{a.warmup_s} s: needs warm-up + 120 s for two separate 60 s windows)")
    return [sat] + chunks


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["overload", "soak"])
    p.add_argument("--build", default=f"{ROOT}/build")
    p.add_argument("--work", default=None, help="scratch directory (default bench/work/MODE)")
    p.add_argument("--out", default=f"{ROOT}/bench/work",
                   help="where MODE-samples.csv and MODE-result.json go (default bench/work)")
    p.add_argument("--duration", type=float, default=None,
                   help="overload phase (default 60 s) / whole soak (default 600 s)")
    p.add_argument("--interval", type=float, default=None,
                   help="sampling interval (default 1 s overload, 5 s soak)")
    p.add_argument("--max-inflight", type=int, default=64)
    p.add_argument("--factor", type=float, default=2.0,
                   help="overload: offered load / saturation (default 2)")
    p.add_argument("--heap-limit-mib", type=int, default=160,
                   help="overload: the server's RssAnon may never exceed this (default 160)")
    p.add_argument("--max-streams", type=int, default=64,
                   help="max_streams_per_connection of the server (0: gRPC's unlimited)")
    p.add_argument("--pin", default="auto",
                   help="CPU split: auto (server on one CPU, the load generator on the rest, so "
                   "saturation and overload are measured with the same CPUs), off, or S:C lists")
    p.add_argument("--connections", type=int, default=4, help="open-loop connections")
    p.add_argument("--sat-connections", type=int, default=4)
    p.add_argument("--sat-streams", type=int, default=12)
    p.add_argument("--sat-duration", type=float, default=5)
    p.add_argument("--soak-fraction", type=float, default=0.5, help="soak rate / saturation")
    p.add_argument("--chunk", type=float, default=60, help="soak: seconds per load_client run")
    p.add_argument("--warmup-s", type=float, default=120, help="soak: warm-up before the checks")
    p.add_argument("--keep-db", action="store_true", help="keep the database (default: removed "
                   "at the end, after the audit counts)")
    p.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                   help="first wait up to S seconds for the machine to be idle (shared machines)")
    a = p.parse_args()
    a.duration = a.duration or (60.0 if a.mode == "overload" else 600.0)
    a.interval = a.interval or (1.0 if a.mode == "overload" else 5.0)
    a.work = os.path.abspath(a.work or f"{ROOT}/bench/work/{a.mode}")
    a.out = os.path.abspath(a.out)
    a.server_cpus, a.client_cpus = split_cpus(a.pin)
    os.makedirs(a.work, exist_ok=True)
    os.makedirs(a.out, exist_ok=True)

    with open("/proc/cpuinfo") as f:
        cpu = [l.split(":", 1)[1].strip() for l in f if l.startswith("model name")]
    log(f"{a.mode}: {os.cpu_count()} cpus ({cpu[0] if cpu else '?'}), load "
        f"{' '.join(open('/proc/loadavg').read().split()[:3])}; work dir {a.work}")
    reqfile, db = prepare(a)
    quiet = wait_quiet(a.wait_quiet) if a.wait_quiet else None
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)  # bench_tool's CPU is not load_client's
    load.children_cpu = ru.ru_utime + ru.ru_stime
    server = Server(a, db)
    log(f"certgate-server pid {server.pid} port {server.port}, max_inflight {a.max_inflight}, "
        f"max_streams_per_connection {a.max_streams}; CPUs: server "
        f"{a.server_cpus or 'all'}, load generator {a.client_cpus or 'all'}")
    sampler = Sampler(server.pid, db, a.interval)
    sampler.start()
    checks = Checks()
    result = {"mode": a.mode, "args": vars(a), "busy_before_start": quiet}
    t_start = time.time()
    runs = []
    try:
        if a.mode == "overload":
            runs = run_overload(a, server, reqfile, db, sampler, checks, result)
        else:
            runs = run_soak(a, server, reqfile, db, sampler, checks, result)
    finally:
        try:
            sampler.stop()
        finally:
            rc = server.stop()
    checks.add(rc == 0, f"server exit code on SIGTERM: {rc}")
    if rc != 0:
        log(server.log_tail())

    counts = audit_counts(db)
    if a.mode == "overload" and "recovery_check" in result:
        recovery_checks(a, reqfile, db, checks, result)
    allowed = sum(r["allowed"] for r in runs)
    denied = sum(r["denied"] for r in runs)
    rows_a, rows_d = counts.get("ALLOW", 0), counts.get("DENY", 0)
    checks.add(rows_a >= allowed and rows_d >= denied,
               f"audit: {rows_a} ALLOW rows for {allowed} allows answered, {rows_d} DENY rows for "
               f"{denied} denials answered ({'equal' if (rows_a, rows_d) == (allowed, denied) else 'NOT equal'})")
    if sampler.error:
        log(f"  note: {sampler.error}")

    csv_path = f"{a.out}/{a.mode}-samples.csv"
    sampler.write_csv(csv_path)
    samples = sampler.samples
    log("memory and descriptors (all samples, KiB for memory):")
    summary = {}
    for ph in ([None] + sorted({s["phase"] for s in samples}, key=lambda p: next(
            i for i, s in enumerate(samples) if s["phase"] == p))):
        sel = [s for s in samples if ph is None or s["phase"] == ph]
        if not sel:
            continue
        summary[ph or "all"] = {k: series(sel, k) for k in ("rss_kb", "anon_kb", "file_kb",
                                                               "fds", "threads")}
        r, f = summary[ph or "all"]["rss_kb"], summary[ph or "all"]["fds"]
        log(f"  {ph or 'all':<10} n={len(sel):<4} VmRSS MiB first {mib(r['first']):.1f} median "
            f"{mib(r['median']):.1f} max {mib(r['max']):.1f} last {mib(r['last']):.1f} "
            f"(growth {mib(r['last'] - r['first']):+.1f}, slope {mib(r['slope_per_min']):+.2f}/min); "
            f"RssAnon median {mib(summary[ph or 'all']['anon_kb']['median']):.1f}; fds first "
            f"{f['first']} max {f['max']} last {f['last']}; threads max "
            f"{summary[ph or 'all']['threads']['max']}")
    result["series"] = summary
    result["db_bytes"] = os.path.getsize(db)
    log(f"database: {result['db_bytes'] / 2**20:.0f} MiB ({rows_a + rows_d} authorize rows)")
    if not a.keep_db:  # the soak's is ~900 MB
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.unlink(db + suffix)
    result["audit"] = {"allow_rows": rows_a, "deny_rows": rows_d, "allowed": allowed,
                       "denied": denied}
    result["checks"] = [{"ok": ok, "what": w} for ok, w in checks.items]
    result["wall_s"] = time.time() - t_start
    with open(f"{a.out}/{a.mode}-result.json", "w") as f:
        json.dump(result, f, indent=1)
    log(f"samples: {csv_path}; result: {a.out}/{a.mode}-result.json")
    bad = checks.failed()
    log(f"{a.mode}: {'FAILED: ' + '; '.join(bad) if bad else 'all checks passed'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

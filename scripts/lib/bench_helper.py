#!/usr/bin/env python3
"""Measurements and the report for scripts/bench (standard library only).

scripts/bench starts and stops every process; this helper does what is
awkward in bash: timing SQL in a long-lived psql session, polling the
rollups at millisecond resolution, reading CPU and memory from /proc, and
rendering docs/benchmarks.md from the results. Each measurement appends
one JSON object per line to a results file; `report` reads it back.

Subcommands (all take --results FILE where they record something):
  freeport                      print a free TCP port on 127.0.0.1
  machine                       the machine's description
  record KEY=VALUE...           append a record measured by the script
  wait-applied                  wait for the rollups to hold N events
  wait-ingested                 wait for `pulse ingest` to deliver N rows
  queries                       the four dashboard questions, raw vs Pulse
  incremental                   matview refresh vs Pulse after 10k rows
  freshness                     insert-commit to rollup-visible latency
  gbench                        Google Benchmark JSON into records
  merge                         earlier results kept by --append
  report                        write the Markdown report (bench_report.py)
"""

import argparse
import datetime
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

# ---------------------------------------------------------------------------
# psql sessions


class PsqlError(RuntimeError):
    pass


class Psql:
    """One psql process kept open; each call's output ends at a marker line.

    Rows come back unaligned, fields separated by \\x1f. Notices are kept
    apart (self.notices); an ERROR raises PsqlError.
    """

    MARK = "__pulse_bench_end__"

    def __init__(self, url):
        env = dict(os.environ, PGTZ="UTC", PGAPPNAME="pulse-bench")
        self.proc = subprocess.Popen(
            ["psql", "-X", "-q", "-A", "-t", "-F", "\x1f", "-d", url],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, bufsize=1, env=env)
        self.notices = []
        self.pid = int(self.value("SELECT pg_backend_pid()"))

    def _send(self, script):
        self.proc.stdin.write(script + "\n\\echo " + self.MARK + "\n")
        self.proc.stdin.flush()
        lines, errors = [], []
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise PsqlError("psql ended unexpectedly")
            line = line.rstrip("\n")
            if line == self.MARK:
                break
            if re.search(r"(^|: )(ERROR|FATAL):", line):
                errors.append(line)
            elif re.search(r"(^|: )(NOTICE|WARNING|DETAIL|HINT|CONTEXT):",
                           line):
                self.notices.append(line)
            else:
                lines.append(line)
        if errors:
            raise PsqlError("; ".join(errors) + " in: " + script[:200])
        return lines

    def rows(self, sql):
        """All rows of one statement, each a list of text fields."""
        return [l.split("\x1f") for l in self._send(sql.strip() + ";")]

    def value(self, sql):
        rows = self.rows(sql)
        return rows[0][0] if rows else None

    def timed(self, sql):
        """Runs one statement, output discarded; psql's \\timing in ms."""
        out = self._send("\\timing on\n\\o /dev/null\n" + sql.strip() +
                         ";\n\\o\n\\timing off")
        for line in out:
            m = re.match(r"Time: ([0-9.]+) ms", line)
            if m:
                return float(m.group(1))
        raise PsqlError("no timing in psql output: %r" % out)

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()


def events_applied(db):
    try:
        return int(db.value("SELECT coalesce(sum(events_applied), 0) "
                            "FROM pulse.partition_state"))
    except PsqlError:
        return 0  # the sink has not created its schema yet


# ---------------------------------------------------------------------------
# /proc: CPU and memory


def cpu_ns(pid):
    """CPU time of every thread of a process, in ns (0 if it is gone)."""
    total = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    except OSError:
        pass
    return total


def children(ppid):
    """Pids whose parent is ppid (PostgreSQL backends of a postmaster)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == ppid:
                out.append(int(name))
        except (OSError, ValueError, IndexError):
            pass
    return out


class CpuMeter:
    """CPU spent by given processes plus PostgreSQL's, between two reads.

    Backends that start or end in between are not counted (a client's own
    backend, such as the one inserting the rows, is left out that way);
    `exclude` leaves out the measuring sessions' backends.
    """

    def __init__(self, postmaster, pids=(), exclude=()):
        self.postmaster, self.pids, self.exclude = postmaster, pids, exclude

    def read(self):
        snap = {p: cpu_ns(p) for p in children(self.postmaster)
                if p not in self.exclude}
        own = sum(cpu_ns(p) for p in self.pids)
        return own, snap

    @staticmethod
    def delta_ms(a, b):
        own = (b[0] - a[0]) / 1e6
        pg = sum(b[1][p] - a[1][p] for p in b[1] if p in a[1]) / 1e6
        return own, pg


# ---------------------------------------------------------------------------
# results


def append(path, record):
    with open(path, "a") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")


def load(path):
    out = []
    if os.path.exists(path):
        with open(path) as f:
            out = [json.loads(l) for l in f if l.strip()]
    return out


def median(xs):
    return statistics.median(xs) if xs else None


def percentile(xs, q):
    """Nearest-rank percentile (q in 0..100)."""
    if not xs:
        return None
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(-(-q * len(s) // 100)) - 1))
    return s[k]


def coerce(v):
    for kind in (int, float):
        try:
            return kind(v)
        except ValueError:
            pass
    return v


# ---------------------------------------------------------------------------
# freeport, machine, record, wait-applied


def cmd_freeport(a):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def cmd_machine(a):
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    os_name = platform.platform()
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    db = Psql(a.url)
    pg = db.value("SHOW server_version")
    settings = db.rows("SELECT name, current_setting(name), '' "
                       "FROM pg_settings WHERE name IN ('shared_buffers', "
                       "'synchronous_commit', 'max_wal_size', 'jit', "
                       "'work_mem', 'max_parallel_workers_per_gather')")
    db.close()
    append(a.results, {
        "kind": "machine", "cpu": cpu, "cores": os.cpu_count(),
        "ram_gib": round(mem_kb / 1048576, 1), "kernel": platform.release(),
        "os": os_name, "postgresql": pg,
        "pg_settings": {n: s + u for n, s, u in settings},
        "load": open("/proc/loadavg").read().split()[:3],
        "date": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC")})


def cmd_record(a):
    rec = {}
    for kv in a.pairs:
        k, _, v = kv.partition("=")
        rec[k] = coerce(v)
    append(a.results, rec)


def alive(pid):
    """Whether a process runs (an exited child not yet reaped does not)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cmd_wait_applied(a):
    """Prints seconds since --start (epoch) when the rollups hold --target."""
    db = Psql(a.url)
    start = a.start or time.time()
    deadline = time.time() + a.timeout
    while True:
        n = events_applied(db)
        if n >= a.target:
            print("%.3f" % (time.time() - start))
            return
        dead = [p for p in a.watch if not alive(p)]
        if dead:
            time.sleep(0.5)  # a second look before failing the run
            dead = [p for p in dead if not alive(p)]
        if dead:
            states = {}
            for p in dead:
                try:
                    states[p] = open("/proc/%d/stat" % p).read()[:60]
                except OSError as e:
                    states[p] = str(e)
            print("wait-applied: pipeline process %s exited (%d of %d "
                  "events applied); see its log" % (states, n, a.target),
                  file=sys.stderr)
            sys.exit(3)
        if time.time() > deadline:
            sys.exit("wait-applied: %d of %d events after %ds" %
                     (n, a.target, a.timeout))
        time.sleep(a.interval)


def metric_sum(text, name, labels=""):
    """Sum of the samples of metric `name` whose labels contain `labels`."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        rest = head[len(name):]
        if rest and not rest.startswith("{"):
            continue  # another metric sharing the prefix
        if labels in rest:
            total += float(value)
    return total


def cmd_wait_ingested(a):
    """Prints seconds since --start when `pulse ingest` (its /metrics on
    --port) has streamed --target rows and none is still in flight."""
    import urllib.request
    start = a.start or time.time()
    deadline = time.time() + a.timeout
    url = "http://127.0.0.1:%d/metrics" % a.port
    rows = 0
    while time.time() < deadline:
        try:
            text = urllib.request.urlopen(url, timeout=2).read().decode()
        except OSError:
            text = ""  # not listening yet
        rows = metric_sum(text, "pulse_ingest_rows_total", 'phase="stream"')
        flying = metric_sum(text, "pulse_ingest_in_flight_messages")
        if text and rows >= a.target and flying == 0:
            print("%.3f" % (time.time() - start))
            return
        if a.watch and not alive(a.watch):
            sys.exit("wait-ingested: pulse ingest exited after %d of %d "
                     "rows; see its log" % (rows, a.target))
        time.sleep(a.interval)
    sys.exit("wait-ingested: %d of %d rows after %ds" %
             (rows, a.target, a.timeout))


# ---------------------------------------------------------------------------
# queries: the research seed's four questions


WHERE = ('FROM directus_activity WHERE "timestamp" >= {since} '
         'AND "timestamp" < {until}')

QUESTIONS = [
    {"id": "Q1", "what": "activity and unique users per collection, 7 days",
     "span": 7 * 86400, "unique": 2,
     "raw": 'SELECT collection, count(*) AS activity_count, '
            'count(DISTINCT "user") AS unique_users ' + WHERE +
            ' GROUP BY collection ORDER BY activity_count DESC',
     "pulse": "SELECT collection, activity_count, unique_users FROM "
              "pulse.collection_activity({since}, {until}) "
              "ORDER BY activity_count DESC"},
    {"id": "Q2", "what": "hourly counts by action, 24 hours",
     "span": 86400, "unique": None,
     "raw": "SELECT date_trunc('hour', \"timestamp\") AS bucket, action, "
            "count(*) AS activity_count " + WHERE +
            " GROUP BY 1, 2 ORDER BY 1, 2",
     "pulse": "SELECT bucket, action, activity_count FROM "
              "pulse.action_timeseries({since}, {until}, 'hour') "
              "ORDER BY 1, 2"},
    {"id": "Q3", "what": "IPs with more than 100 actions in the last hour, "
                         "with distinct collections",
     "span": 3600, "unique": 2,
     "raw": "SELECT ip, count(*) AS activity_count, "
            "count(DISTINCT collection) AS collections_accessed " + WHERE +
            " AND ip IS NOT NULL GROUP BY ip HAVING count(*) > 100 "
            "ORDER BY activity_count DESC",
     "pulse": "SELECT ip, activity_count, collections_accessed FROM "
              "pulse.suspicious_ips({since}, {until}, 101) "
              "ORDER BY activity_count DESC"},
    {"id": "Q4", "what": "per-user activity and distinct collections, "
                         "30 days",
     "span": 30 * 86400, "unique": 2,
     "raw": 'SELECT "user", count(*) AS activity_count, '
            'count(DISTINCT collection) AS collections_accessed ' + WHERE +
            ' AND "user" IS NOT NULL GROUP BY "user" '
            'ORDER BY activity_count DESC',
     "pulse": 'SELECT "user", activity_count, collections_accessed FROM '
              'pulse.user_engagement({since}, {until}) '
              'ORDER BY activity_count DESC'},
]


def compare_answers(raw, pulse, unique_col):
    """'equal', 'equal within HLL error' or a description of the difference.

    Rows are compared as sets of text (order is not part of the answer).
    A unique count may differ only as postgresql-hll allows: exact below
    2,560, within 2 % above.
    """
    r, p = sorted(map(tuple, raw)), sorted(map(tuple, pulse))
    if r == p:
        return "equal"
    if unique_col is not None and len(r) == len(p):
        key = lambda row: row[:unique_col] + row[unique_col + 1:]
        rk = {key(x): int(x[unique_col]) for x in r}
        pk = {key(x): int(x[unique_col]) for x in p}
        if rk.keys() == pk.keys() and all(
                v < 2560 and pk[k] == v or
                v >= 2560 and abs(pk[k] - v) <= 0.02 * v
                for k, v in rk.items()):
            return "equal within HLL error"
    only_r = [x for x in r if x not in set(p)][:2]
    only_p = [x for x in p if x not in set(r)][:2]
    return ("DIFFERENT (%d raw rows, %d Pulse rows; raw only %s; "
            "Pulse only %s)" % (len(r), len(p), only_r, only_p))


def plan_indexes(db, sql):
    """Index names the raw query's plan uses."""
    plan = "\n".join(r[0] for r in db.rows("EXPLAIN " + sql))
    names = re.findall(r"(?:Index|Index Only|Bitmap Index) Scan (?:Backward )?"
                       r"(?:using|on) (\S+)", plan)
    return sorted(set(names)) or ["none (sequential scan)"]


def cmd_queries(a):
    db = Psql(a.url)
    until = datetime.datetime.fromisoformat(a.until.replace("Z", "+00:00"))
    for q in QUESTIONS:
        since = until - datetime.timedelta(seconds=q["span"])
        lit = lambda t: "'%s'::timestamptz" % t.strftime("%Y-%m-%dT%H:%M:%SZ")
        raw = q["raw"].format(since=lit(since), until=lit(until))
        fn = q["pulse"].format(since=lit(since), until=lit(until))

        # The answers, compared; notices would say a range was coarsened.
        db.notices = []
        raw_rows = db.rows(raw)
        fn_rows = db.rows(fn)
        verdict = compare_answers(raw_rows, fn_rows, q["unique"])
        notices = list(db.notices)

        # One warm-up each, then alternate raw and Pulse so both see the
        # same load; medians.
        db.timed(raw)
        db.timed(fn)
        raw_ms, fn_ms = [], []
        for _ in range(a.reps):
            raw_ms.append(db.timed(raw))
            fn_ms.append(db.timed(fn))
        rec = {"kind": "query", "size": a.size, "id": q["id"],
               "what": q["what"], "since": since.isoformat(),
               "until": until.isoformat(), "reps": a.reps,
               "raw_ms": raw_ms, "pulse_ms": fn_ms,
               "raw_median_ms": median(raw_ms),
               "pulse_median_ms": median(fn_ms),
               "ratio": median(raw_ms) / max(median(fn_ms), 1e-6),
               "rows": len(raw_rows), "pulse_rows": len(fn_rows),
               "answers": verdict, "notices": notices,
               "raw_sql": raw, "pulse_sql": fn,
               "raw_plan_indexes": plan_indexes(db, raw)}
        append(a.results, rec)
        print("%s %s: raw %.2f ms, pulse %.2f ms, %d rows, %s" % (
            a.size, q["id"], rec["raw_median_ms"], rec["pulse_median_ms"],
            len(raw_rows), verdict), file=sys.stderr)
    db.close()


# ---------------------------------------------------------------------------
# incremental: matview refresh vs Pulse reflecting 10k new rows

MATVIEW = """
CREATE MATERIALIZED VIEW IF NOT EXISTS bench_activity_hourly AS
  SELECT date_trunc('hour', "timestamp") AS bucket, collection, action,
         count(*) AS activity_count
  FROM directus_activity GROUP BY 1, 2, 3
"""


def settle(db, timeout=300):
    """Waits until the rollups hold every raw row; returns that count."""
    deadline = time.time() + timeout
    while True:
        raw = int(db.value("SELECT count(*) FROM directus_activity"))
        if events_applied(db) >= raw:
            return raw
        if time.time() > deadline:
            sys.exit("incremental: rollups did not catch up with the table")
        time.sleep(0.2)


def cmd_incremental(a):
    db = Psql(a.url)
    poll = Psql(a.url)
    create_ms = db.timed(MATVIEW)
    db.timed("CREATE UNIQUE INDEX IF NOT EXISTS bench_activity_hourly_key "
             "ON bench_activity_hourly (bucket, collection, action)")
    # Pulse: its process and PostgreSQL's, without the measuring sessions.
    # The refresh: PostgreSQL's, the session running it included.
    meter = CpuMeter(a.postmaster, a.pulse_pid, (db.pid, poll.pid))
    refresh_meter = CpuMeter(a.postmaster, (), (poll.pid,))
    env = dict(os.environ, PULSE_HTTP_PORT="0")
    for rep in range(a.reps):
        # The pipeline is idle and complete before the rows arrive.
        base = settle(db)
        time.sleep(1)
        before = meter.read()

        # 10k rows stamped within the last minute, one transaction.
        subprocess.run(
            [a.pulse, "generate", "history", "--url", a.url, "--rows",
             str(a.rows), "--days", "%.8f" % (60 / 86400), "--seed",
             str(9000 + rep)], check=True, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        committed = time.monotonic()
        while events_applied(poll) < base + a.rows:
            time.sleep(0.002)
        visible = time.monotonic()
        after = meter.read()
        pulse_own, pulse_pg = CpuMeter.delta_ms(before, after)

        # The seed's phase 2: recompute the hourly matview.
        time.sleep(1)
        before = refresh_meter.read()
        refresh_ms = db.timed("REFRESH MATERIALIZED VIEW bench_activity_hourly")
        after = refresh_meter.read()
        _, refresh_pg = CpuMeter.delta_ms(before, after)

        rec = {"kind": "incremental", "size": a.size, "rep": rep,
               "rows": a.rows, "matview_create_ms": create_ms,
               "refresh_ms": refresh_ms, "refresh_cpu_ms": refresh_pg,
               "pulse_reflect_ms": (visible - committed) * 1000,
               "pulse_cpu_ms": pulse_own + pulse_pg,
               "pulse_cpu_pulse_ms": pulse_own,
               "pulse_cpu_postgres_ms": pulse_pg}
        append(a.results, rec)
        print("%s incremental: refresh %.0f ms (cpu %.0f), pulse reflect "
              "%.0f ms (cpu %.0f)" % (a.size, refresh_ms, refresh_pg,
                                     rec["pulse_reflect_ms"],
                                     rec["pulse_cpu_ms"]), file=sys.stderr)
    # Whether the matview and the rollups agree on the hourly counts.
    diff = db.value(
        "SELECT count(*) FROM (SELECT bucket, collection, action, "
        "activity_count FROM bench_activity_hourly EXCEPT ALL "
        "SELECT bucket, collection, action, activity_count "
        "FROM pulse.activity_hour) d")
    append(a.results, {"kind": "incremental_check", "size": a.size,
                       "matview_rows_not_in_rollups": int(diff)})
    db.close()
    poll.close()


# ---------------------------------------------------------------------------
# freshness: probe rows at a steady rate beside `pulse generate live`

PROBE_IP = "192.0.2.250"  # one address: one partition, so probes stay in order


def cmd_freshness(a):
    env = dict(os.environ, PULSE_HTTP_PORT="0")
    live = subprocess.Popen(
        [a.pulse, "generate", "live", "--url", a.url, "--rate", str(a.rate),
         "--seed", str(7000 + a.rate)], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True)
    try:
        time.sleep(a.warmup)
        if live.poll() is not None:
            sys.exit("freshness: pulse generate live exited early")
        writer, poller = Psql(a.url), Psql(a.url)
        since = writer.value("SELECT date_trunc('minute', now()) - "
                             "interval '1 minute'")
        count_sql = ("SELECT coalesce(sum(activity_count), 0) FROM "
                     "pulse.activity_minute WHERE bucket >= '%s' AND "
                     "collection = 'pulse_probe'" % since)
        base = int(poller.value(count_sql))
        committed, visible = [], {}
        done = threading.Event()

        def poll():
            seen = 0
            while not done.is_set() or seen < len(committed):
                n = int(poller.value(count_sql)) - base
                now = time.monotonic()
                for k in range(seen, n):
                    visible[k] = now
                seen = max(seen, n)
                if done.is_set() and time.monotonic() > done.deadline:
                    break
                time.sleep(0.003)

        t = threading.Thread(target=poll, daemon=True)
        t.start()
        interval = 1.0 / a.probe_hz
        next_at = time.monotonic()
        end = next_at + a.duration
        k = 0
        while time.monotonic() < end:
            writer.rows(
                "INSERT INTO directus_activity (action, \"timestamp\", ip, "
                "collection, item) VALUES ('create', clock_timestamp(), "
                "'%s', 'pulse_probe', 'probe-%d-%d')" % (PROBE_IP, a.rate, k))
            committed.append(time.monotonic())
            k += 1
            next_at += interval
            time.sleep(max(0, next_at - time.monotonic()))
        done.deadline = time.monotonic() + 30
        done.set()
        t.join()
        writer.close()
        poller.close()
    finally:
        live.send_signal(signal.SIGTERM)
        out, _ = live.communicate(timeout=30)
    m = re.search(r"rows=(\d+) seconds=([0-9.]+)", out or "")
    live_rate = int(m.group(1)) / float(m.group(2)) if m else None
    lat = [(visible[i] - c) * 1000 for i, c in enumerate(committed)
           if i in visible]
    rec = {"kind": "freshness", "size": a.size, "rate": a.rate,
           "live_rate": live_rate, "probes": len(committed),
           "lost": len(committed) - len(lat), "p50_ms": percentile(lat, 50),
           "p99_ms": percentile(lat, 99), "max_ms": max(lat) if lat else None,
           "duration_s": a.duration, "probe_hz": a.probe_hz}
    append(a.results, rec)
    print("%s freshness at %d rows/s: p50 %.0f ms p99 %.0f ms (%d probes)" % (
        a.size, a.rate, rec["p50_ms"] or -1, rec["p99_ms"] or -1,
        len(committed)), file=sys.stderr)


# ---------------------------------------------------------------------------
# Google Benchmark output


def cmd_gbench(a):
    """One record per benchmark: the median of its repetitions when it
    ran several (the machine is noisy), else its single run."""
    with open(a.json) as f:
        runs = json.load(f).get("benchmarks", [])
    medians = {b["run_name"]: b for b in runs
               if b.get("run_type") == "aggregate"
               and b.get("aggregate_name") == "median"}
    first, counts = {}, {}
    for b in runs:
        if b.get("run_type") != "aggregate":
            name = b.get("run_name", b["name"])
            first.setdefault(name, b)
            counts[name] = counts.get(name, 0) + 1
    for name, run in first.items():
        b = medians.get(name, run)
        append(a.results, {
            "kind": "gbench", "program": a.program, "name": name,
            "time": b.get("real_time"), "cpu_time": b.get("cpu_time"),
            "unit": b.get("time_unit"), "iterations": b.get("iterations"),
            "repetitions": counts[name],
            "items_per_second": b.get("items_per_second"),
            "bytes_per_second": b.get("bytes_per_second"),
            "error": run.get("error_message")})


def cmd_merge(a):
    """Earlier results (--old) for the sizes this run did not measure,
    then this run's (--new), on stdout."""
    old, new = load(a.old), load(a.new)
    sizes = {r["size"] for r in new if "size" in r}
    has_components = any(r["kind"].startswith("gbench") for r in new)
    kept = [r for r in old
            if r["kind"] == "machine"
            or ("size" in r and r["size"] not in sizes)
            or (r["kind"].startswith("gbench") and not has_components)]
    for r in kept + new:
        print(json.dumps(r, sort_keys=True))


def cmd_report(a):
    from bench_report import Report  # beside this file
    records = load(a.results)
    text = Report(records, a.smoke).render()
    extra = ""
    if a.notes and os.path.exists(a.notes):
        with open(a.notes) as f:
            extra = "\n" + f.read().strip() + "\n"
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        f.write(text + extra)
    os.replace(tmp, a.out)


# ---------------------------------------------------------------------------


def main():
    # SIGTERM (the script's cleanup) unwinds like an exception, so the
    # `finally` blocks stop the processes this helper started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    sub.add_parser("freeport")
    s = sub.add_parser("machine")
    s.add_argument("--url", required=True)
    s.add_argument("--results", required=True)
    s = sub.add_parser("record")
    s.add_argument("--results", required=True)
    s.add_argument("pairs", nargs="+")
    s = sub.add_parser("wait-applied")
    s.add_argument("--url", required=True)
    s.add_argument("--target", type=int, required=True)
    s.add_argument("--start", type=float)
    s.add_argument("--timeout", type=int, default=3600)
    s.add_argument("--interval", type=float, default=0.05)
    s.add_argument("--watch", type=int, action="append", default=[],
                   help="fail if this process exits meanwhile")
    s = sub.add_parser("wait-ingested")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--target", type=int, required=True)
    s.add_argument("--start", type=float)
    s.add_argument("--timeout", type=int, default=3600)
    s.add_argument("--interval", type=float, default=0.05)
    s.add_argument("--watch", type=int, help="fail if this process exits")
    s = sub.add_parser("queries")
    for f in ("--url", "--until", "--results"):
        s.add_argument(f, required=True)
    s.add_argument("--size", type=int, required=True)
    s.add_argument("--reps", type=int, default=7)
    s = sub.add_parser("incremental")
    for f in ("--url", "--pulse", "--results"):
        s.add_argument(f, required=True)
    s.add_argument("--size", type=int, required=True)
    s.add_argument("--postmaster", type=int, required=True)
    s.add_argument("--pulse-pid", type=int, action="append", default=[])
    s.add_argument("--rows", type=int, default=10000)
    s.add_argument("--reps", type=int, default=3)
    s = sub.add_parser("freshness")
    for f in ("--url", "--pulse", "--results"):
        s.add_argument(f, required=True)
    s.add_argument("--size", type=int, required=True)
    s.add_argument("--rate", type=int, required=True)
    s.add_argument("--duration", type=float, default=30)
    s.add_argument("--warmup", type=float, default=5)
    s.add_argument("--probe-hz", type=float, default=10)
    s = sub.add_parser("gbench")
    for f in ("--json", "--program", "--results"):
        s.add_argument(f, required=True)
    s = sub.add_parser("merge")
    s.add_argument("--old", required=True)
    s.add_argument("--new", required=True)
    s = sub.add_parser("report")
    s.add_argument("--results", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--notes", help="Markdown appended to the report")
    s.add_argument("--smoke", action="store_true")

    a = p.parse_args()
    globals()["cmd_" + a.cmd.replace("-", "_")](a)


if __name__ == "__main__":
    main()

"""The chaos run: Pulse under live traffic while processes are killed,
PostgreSQL restarts, connections are cut, the sink is locked out, the
broker misbehaves and the aggregator group rebalances; then it must drain
to rollups that equal the raw table exactly. scripts/chaos is the entry
point (it starts PostgreSQL and finds the binary); see docs/chaos.md.
"""

import argparse
import ctypes
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import chaos_checks  # noqa: E402
from chaos_db import Server  # noqa: E402
from chaos_faults import Faults, Tally  # noqa: E402
from chaos_procs import Proc, RunPipeline, SeparatePipeline  # noqa: E402

HISTORY_ATTACKER = "198.51.100.7"
LIVE_ATTACKER = "203.0.113.99"
RULES = {"suspicious_window": 60, "suspicious_threshold": 100,
         "login_window": 10, "login_threshold": 20, "cooldown": 60}
WAL_BOUND = 256 << 20
# Crash points each command carries (common/crash_point.h).
CRASH_POINTS = {
    "aggregate": ["aggregate.state_write", "aggregate.after_alerts"],
    "sink": ["sink.before_commit"],
    "ingest": ["ingest.snapshot_checkpoint"],
}
CRASH_POINTS["run"] = [p for ps in list(CRASH_POINTS.values()) for p in ps]


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="scripts/chaos",
        description="Run Pulse under seeded faults and check that the "
        "rollups still equal the raw table. Starts its own PostgreSQL; "
        "uses $PULSE_BINARY or builds build-release/cli/pulse.")
    p.add_argument("--minutes", type=float, default=3,
                   help="minutes of faults in all (split between the "
                   "variants with --mode both; default 3)")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of every random choice (default: random, "
                   "printed so the run can be replayed)")
    p.add_argument("--mode", choices=["separate", "run", "both"],
                   default="both", help="which pipeline shape (default both)")
    p.add_argument("--out", help="also write the summary to this file")
    p.add_argument("--history-rows", type=int, default=200000,
                   help="rows written before the ingest starts, so kills "
                   "land in its snapshot (default 200000)")
    p.add_argument("--rate", type=int, default=50,
                   help="live rows per second (default 50)")
    p.add_argument("--drain-timeout", type=int, default=600,
                   help="seconds allowed to drain after the faults stop")
    p.add_argument("--keep", action="store_true",
                   help="keep the work folder (logs, timeline) even when "
                   "the run passes; a failing run always keeps it")
    # Set by scripts/chaos.
    p.add_argument("--pulse", required=True, help=argparse.SUPPRESS)
    p.add_argument("--pg-dir", required=True, help=argparse.SUPPRESS)
    p.add_argument("--pg-port", type=int, required=True,
                   help=argparse.SUPPRESS)
    p.add_argument("--work", required=True, help=argparse.SUPPRESS)
    return p.parse_args(argv)


class Variant:
    """One pipeline shape from an empty database to its verdict."""

    def __init__(self, args, server, tally, name, seconds, rng):
        self.args, self.server, self.tally = args, server, tally
        self.name, self.seconds, self.rng = name, seconds, rng
        self.work = args.work
        self.partitions = 6
        self.topics = ["directus.activity", "directus.activity.rollups",
                       "directus.activity.alerts"]
        self.slot = f"chaos_{name}"
        self.undo = []  # (monotonic time, description, action, broker)
        self.result = {"variant": name}
        os.makedirs(os.path.join(self.work, "logs", name), exist_ok=True)

    def log(self, file):
        return os.path.join(self.work, "logs", self.name, file)

    def later(self, seconds, what, action, broker=False):
        self.undo.append((time.monotonic() + seconds, what, action, broker))

    def run_due(self, everything=False):
        now = time.monotonic()
        keep = []
        for item in self.undo:
            if everything or item[0] <= now:
                self.tally.say(self.name, f"undo: {item[1]}")
                item[2]()
            else:
                keep.append(item)
        self.undo = keep

    # Setup.

    def prepare(self):
        self.db = self.server.create_database(f"chaos_{self.name}")
        self.base_env = {
            "PULSE_SOURCE_URL": self.db.url(),
            "PULSE_HTTP_PORT": "0",
            "PULSE_HTTP_BIND": "127.0.0.1",
            "PULSE_INGEST_SLOT": self.slot,
            "PULSE_INGEST_HEARTBEAT_INTERVAL": "5s",
            "PULSE_INGEST_SNAPSHOT_CHECKPOINT_ROWS": "10000",
            "PULSE_KAFKA_PARTITIONS": str(self.partitions),
            "PULSE_KAFKA_PROPERTIES": "session.timeout.ms=6000",
            "PULSE_PROGRESS_INTERVAL": "5s",
            "PULSE_LOG_LEVEL": "info",
        }
        if self.name == "separate":
            # `pulse broker` holds ~5 MiB a partition in memory: hold the
            # ingest back and acknowledge only what the sink committed.
            self.base_env.update({"PULSE_INGEST_ACK": "sink",
                                  "PULSE_INGEST_MAX_AHEAD": "15000",
                                  "PULSE_INGEST_MAX_IN_FLIGHT": "15000"})
        self.pulse = self.args.pulse
        seed = self.args.seed
        history = subprocess.run(
            [self.pulse, "generate", "history", "--rows",
             str(self.args.history_rows), "--days", "3", "--seed", str(seed),
             "--hostile-fraction", "0.01", "--attacker-ip", HISTORY_ATTACKER,
             "--attacker-burst", "300"],
            env={**os.environ, **self.base_env}, capture_output=True,
            text=True)
        if history.returncode != 0:
            raise RuntimeError("history: " + history.stderr[-2000:])
        self.tally.say(self.name, f"history: {self.args.history_rows} rows")

    def start_live(self):
        self.live = Proc(
            "live", [self.pulse, "generate", "live", "--rate",
                     str(self.args.rate), "--seed", str(self.args.seed + 1),
                     "--hostile-fraction", "0.01", "--attacker-ip",
                     LIVE_ATTACKER, "--attacker-burst", "600",
                     "--attacker-window", "1m", "--attacker-after", "15s"],
            self.base_env, os.path.join(self.work, "logs", self.name))
        self.live.start()

    # The faults.

    def kill_targets(self):
        if self.name == "run":
            return [("run", 1)]
        weights = {"aggregate": 3, "sink": 2, "ingest": 2}
        return [(n, weights[n.split("-")[0]]) for n in self.pipeline.procs]

    def kill_one(self, name, why=""):
        p = self.pipeline.procs[name]
        if not p.alive():
            return False
        self.tally.kill(self.name, name, p.pid(), why)
        self.pipeline.kill(name, self.rng.choice([0, 0.2, 0.5, 1, 2.5]))
        # A third of the restarts die again at an exact moment: in a
        # RocksDB commit, inside a sink transaction, at a checkpoint.
        if self.rng.random() < 0.35:
            points = CRASH_POINTS[name.split("-")[0]]
            p.crash_at = f"{self.rng.choice(points)}:{self.rng.randint(1, 8)}"
            self.tally.say(self.name, f"{name} restarts with crash point "
                           f"{p.crash_at}")
        return True

    def kill_broker(self):
        self.tally.kill(self.name, "broker", self.pipeline.broker.pid(),
                        " (its data is lost; all restart)")
        self.undo = [u for u in self.undo if not u[3]]
        self.faults.down = None
        self.pipeline.lose_broker()
        self.tally.say(self.name, f"new broker {self.pipeline.bootstrap}")

    def in_snapshot(self):
        p = self.pipeline.procs["ingest" if self.name == "separate" else "run"]
        log = p.log()
        return p.alive() and "snapshot_started" in log and \
            "snapshot_done" not in log

    def chaos(self):
        """Faults until the time is up; every kind at least once."""
        rng = self.rng
        kinds = self.faults.kinds()
        first_round = [k for k, _ in kinds]
        rng.shuffle(first_round)
        start = time.monotonic()
        end = start + self.seconds
        next_kill = start + rng.uniform(1, 3)
        next_fault = start + rng.uniform(2, 5)
        snapshot_kills = 0
        broker_kill_at = start + self.seconds * rng.uniform(0.3, 0.6)
        next_sample = start
        while time.monotonic() < end:
            now = time.monotonic()
            self.pipeline.supervise(self.tally)
            self.supervise_live()
            self.run_due()
            if now >= next_sample:
                next_sample = now + 10
                self.sample_wal()

            # kill -9 during the initial snapshot, twice.
            if snapshot_kills < 2 and self.in_snapshot() and \
                    rng.random() < 0.05:
                name = "ingest" if self.name == "separate" else "run"
                snapshot_kills += self.kill_one(name, " (during snapshot)")

            if self.name == "separate" and now >= broker_kill_at:
                self.kill_broker()
                broker_kill_at = now + max(60, self.seconds * 0.4) * \
                    rng.uniform(0.8, 1.6)
            if now >= next_kill:
                names, weights = zip(*self.kill_targets())
                self.kill_one(rng.choices(names, weights)[0])
                next_kill = now + rng.uniform(2, 6)
            if now >= next_fault:
                if first_round:
                    kind = first_round.pop()
                else:
                    names, weights = zip(*kinds)
                    kind = rng.choices(names, weights)[0]
                if not self.faults.inject(kind) and kind not in first_round:
                    first_round.insert(0, kind)  # try it again later
                next_fault = time.monotonic() + rng.uniform(2, 6)
            time.sleep(0.1)
        self.run_due(everything=True)
        if first_round:
            self.tally.say(self.name, f"never injected: {first_round}")

    def supervise_live(self):
        if not self.live.alive():
            self.tally.exit(self.name, "live", self.live.popen.returncode,
                            self.live.last_error())
            self.live.start()

    def sample_wal(self):
        pos = chaos_checks.slot_position(self.db, self.slot)
        if pos:
            self.result["max_retained_wal"] = max(
                self.result.get("max_retained_wal", 0), pos[0])

    # The verdict.

    def drain_and_check(self):
        r = self.result
        if self.faults.lock is not None:
            self.faults.lock.wait()
        self.tally.say(self.name, "traffic stops; draining")
        r["live_exit"] = self.live.stop()

        def tick():
            self.pipeline.supervise(self.tally)

        drained, detail = chaos_checks.wait_drained(
            self.db, self.slot, self.args.drain_timeout, tick)
        r["drained"] = drained
        self.tally.say(self.name, f"drained={drained} {detail}")
        r["retained_wal"] = chaos_checks.wait_wal_released(
            self.db, self.slot, WAL_BOUND, 120, tick)
        self.tally.say(self.name, f"slot retains {r['retained_wal']} bytes")
        r["exit_codes"] = self.pipeline.stop()
        r["rows"] = int(self.db.scalar(
            "SELECT count(*) FROM directus_activity"))

        mismatches, examples, compared, approx = \
            chaos_checks.compare_rollups(self.db)
        r.update(mismatches=mismatches, compared=compared, approx=approx)
        for e in examples[:10]:
            self.tally.say(self.name, "mismatch " + e)
        alert_failures, alerts, attacker_alerts = chaos_checks.check_alerts(
            self.db, [HISTORY_ATTACKER, LIVE_ATTACKER], RULES)
        r.update(alert_failures=alert_failures, alerts=alerts)
        self.tally.say(self.name, f"{alerts} alerts; attackers: "
                       f"{' '.join(attacker_alerts)}")
        for f in alert_failures:
            self.tally.say(self.name, "alert check: " + f)
        r["reconcile"] = self.reconcile()
        self.db.try_query("SELECT pg_drop_replication_slot(slot_name) FROM "
                          f"pg_replication_slots WHERE slot_name = "
                          f"'{self.slot}' AND NOT active")

    def reconcile(self):
        """`pulse reconcile` over the whole history; its exit code."""
        span = self.db.query(
            "SELECT to_char(date_trunc('day', min(timestamp), 'UTC') AT "
            "TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
            "to_char(date_trunc('minute', max(timestamp), 'UTC') AT TIME "
            "ZONE 'UTC' + interval '1 minute', "
            "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM directus_activity")[0]
        out = subprocess.run(
            [self.pulse, "reconcile", "--since", span[0], "--until", span[1]],
            env={**os.environ, **self.base_env}, capture_output=True,
            text=True)
        with open(self.log("reconcile.out"), "w") as f:
            f.write(out.stdout + out.stderr)
        self.tally.say(self.name, f"pulse reconcile exit {out.returncode}: "
                       f"{(out.stdout.strip().splitlines() or [''])[-1]}")
        return out.returncode

    def failures(self):
        r = self.result
        out = []
        if not r.get("drained"):
            out.append("did not drain")
        if r.get("mismatches", 1):
            out.append(f"{r.get('mismatches')} rollup mismatches")
        out += r.get("alert_failures", [])
        if r.get("reconcile") != 0:
            out.append(f"pulse reconcile exit {r.get('reconcile')}")
        if not 0 <= r.get("retained_wal", -1) < WAL_BOUND:
            out.append(f"retained WAL {r.get('retained_wal')} bytes")
        for name, code in r.get("exit_codes", {}).items():
            if code != 0:
                out.append(f"{name} exit {code} on SIGTERM")
        return out + r.get("bad_exits", [])

    def execute(self):
        """Prepare, start, chaos, drain, check; always stops what it
        started."""
        self.prepare()
        shape = SeparatePipeline if self.name == "separate" else RunPipeline
        self.pipeline = shape(self)
        self.faults = Faults(self, self.pipeline, self.rng)
        try:
            self.pipeline.start()
            self.start_live()
            self.tally.say(self.name, f"started; faults for "
                           f"{self.seconds:.0f}s")
            self.chaos()
            self.drain_and_check()
        finally:
            self.pipeline.kill_all()
            if getattr(self, "live", None):
                self.live.kill9()
            if self.faults.lock is not None and self.faults.lock.poll() is None:
                self.faults.lock.kill()
                self.faults.lock.wait()
        return self.failures()


def summarize(args, tally, variants, failures):
    """key=value lines: what was injected, what survived, the verdict."""
    lines = [f"seed={args.seed}", f"minutes={args.minutes:g}",
             f"modes={','.join(v.name for v in variants)}"]
    for kind, n in sorted(tally.faults.items()):
        lines.append(f"faults.{kind}={n}")
    lines.append(f"faults_total={sum(tally.faults.values())}")
    for name, n in sorted(tally.kills.items()):
        lines.append(f"kills.{name}={n}")
    for point, n in sorted(tally.crash_points.items()):
        lines.append(f"kills_at.{point}={n}")
    kills = sum(tally.kills.values())
    lines.append(f"kills_total={kills}")
    lines.append(f"kills_survived={kills if not failures else 0}")
    for key, n in sorted(tally.exits.items()):
        lines.append(f"self_exits.{key}={n}")
    for v in variants:
        r = v.result
        lines.append(
            f"variant.{v.name}=rows:{r.get('rows', 0)} "
            f"mismatches:{r.get('mismatches', 'unchecked')} "
            f"rollup_rows:{r.get('compared', 0)} "
            f"uniques_past_exact:{r.get('approx', 0)} "
            f"alerts:{r.get('alerts', 0)} "
            f"retained_wal_mb:{r.get('retained_wal', -1) / 1048576:.1f} "
            f"max_retained_wal_mb:{r.get('max_retained_wal', 0) / 1048576:.1f}"
            f" reconcile_exit:{r.get('reconcile', 'none')}")
    lines.append(f"rows={sum(v.result.get('rows', 0) for v in variants)}")
    checked = all("mismatches" in v.result for v in variants)
    mismatches = sum(v.result.get("mismatches", 0) for v in variants)
    lines.append(f"mismatches={mismatches if checked else 'unchecked'}")
    for f in failures:
        lines.append(f"failure={f}")
    lines.append(f"checks_failed={len(failures)}")
    lines.append(f"result={'PASS' if not failures else 'FAIL'}")
    lines.append(f"replay=scripts/chaos --minutes {args.minutes:g} "
                 f"--seed {args.seed} --mode {args.mode} --history-rows "
                 f"{args.history_rows} --rate {args.rate}")
    return "\n".join(lines) + "\n"


def stop_on_signal():
    """SIGTERM (sent here too if scripts/chaos dies) unwinds the run, so
    every child is stopped by the finally blocks."""
    def handler(signo, frame):
        raise SystemExit(128 + signo)

    signal.signal(signal.SIGTERM, handler)
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def main(argv):
    args = parse_args(argv)
    stop_on_signal()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 1 << 31)
    modes = ["separate", "run"] if args.mode == "both" else [args.mode]
    seconds = args.minutes * 60 / len(modes)
    server = Server(args.pg_dir, args.pg_port)
    tally = Tally(os.path.join(args.work, "timeline.log"))
    tally.say("chaos", f"seed={args.seed} minutes={args.minutes:g} "
              f"modes={','.join(modes)} work={args.work}")

    # Each variant draws from its own stream, so one replays alone.
    variants, failures = [], []
    for mode in modes:
        stream = args.seed * 1000 + (1 if mode == "separate" else 2)
        v = Variant(args, server, tally, mode, seconds,
                    random.Random(stream))
        variants.append(v)
        try:
            failures += [f"{mode}: {f}" for f in v.execute()]
        except Exception as e:  # a broken run is a failed run, with why
            failures.append(f"{mode}: {type(e).__name__}: {e}")
            tally.say(mode, f"aborted: {e}")

    summary = summarize(args, tally, variants, failures)
    print("\n== chaos summary ==\n" + summary, end="", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            f.write(summary)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The faults a chaos run injects, and the tally of what it did.

Each fault is a function of the run's state that returns a short
description when it did something (and None when it could not, e.g. no
backend to terminate at that moment), so the summary counts only faults
that happened. Faults that last (a broker down, a lock, a slow broker,
an extra aggregator) schedule their own end.
"""

import collections
import signal
import time
import urllib.error
import urllib.request

# Broker error codes a healthy cluster can answer, per API; each is one
# the clients must ride out by retrying (none means data is gone).
BROKER_ERRORS = {
    "produce": ["NOT_LEADER_FOR_PARTITION", "LEADER_NOT_AVAILABLE",
                "REQUEST_TIMED_OUT", "NOT_ENOUGH_REPLICAS"],
    "fetch": ["NOT_LEADER_FOR_PARTITION", "LEADER_NOT_AVAILABLE"],
    # Pulse keeps offsets in PostgreSQL and never commits to Kafka, so
    # commit errors must change nothing; the group protocol's do matter.
    "commit": ["NOT_COORDINATOR", "COORDINATOR_NOT_AVAILABLE",
               "REQUEST_TIMED_OUT"],
    "heartbeat": ["REBALANCE_IN_PROGRESS", "NOT_COORDINATOR"],
}


class Tally:
    """Counts by kind, the timeline, and processes that exited by
    themselves."""

    def __init__(self, timeline_path):
        self.faults = collections.Counter()
        self.kills = collections.Counter()
        self.crash_points = collections.Counter()
        self.exits = collections.Counter()
        self.exit_errors = []
        self.started = time.monotonic()
        self.timeline = open(timeline_path, "a", buffering=1)

    def say(self, variant, text):
        line = f"[{time.monotonic() - self.started:7.1f}s] {variant:8} {text}"
        print(line, flush=True)
        self.timeline.write(line + "\n")

    def fault(self, variant, kind, detail):
        self.faults[kind] += 1
        self.say(variant, f"fault {kind}: {detail}")

    def kill(self, variant, name, pid, why=""):
        self.kills[name.split("-")[0]] += 1
        self.say(variant, f"kill -9 {name} pid={pid}{why}")

    def crash(self, variant, name, pid, point):
        """A kill -9 the process gave itself at an armed crash point."""
        self.kills[name.split("-")[0]] += 1
        self.crash_points[point] += 1
        self.say(variant, f"kill -9 {name} pid={pid} (at {point})")

    def exit(self, variant, name, code, error):
        self.exits[f"{name.split('-')[0]}:{code}"] += 1
        self.say(variant, f"exited by itself: {name} code={code} {error}")
        if error:
            self.exit_errors.append(f"{variant} {name}: {error}")


def post_fault(port, path):
    """POST /faults/<path> to the broker; the answer, or None."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/faults/{path}",
                                 data=b"", method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.read().decode().strip()
    except (urllib.error.URLError, OSError):
        return None


class Faults:
    """The fault kinds of one variant, drawn with a seeded generator."""

    def __init__(self, run, pipeline, rng):
        self.run = run  # the variant runner: db, server, tally, undo list
        self.p = pipeline
        self.rng = rng
        self.lock = None  # the psql session holding a lock
        self.down = None  # the broker id that is down

    def kinds(self):
        """(kind, weight) pairs usable in this variant."""
        common = [("pg_restart_fast", 1), ("pg_restart_immediate", 1),
                  ("terminate_walsender", 2), ("terminate_sink", 2),
                  ("sink_lock", 1)]
        if self.p.variant != "separate":
            return common
        return common + [("errors_produce", 2), ("errors_fetch", 2),
                         ("errors_commit", 1), ("errors_heartbeat", 1),
                         ("broker_down", 1), ("leader_move", 2),
                         ("broker_rtt", 1), ("rebalance", 1),
                         ("pause_aggregator", 1)]

    def inject(self, kind):
        detail = getattr(self, kind)()
        if detail:
            self.run.tally.fault(self.p.variant, kind, detail)
        return detail is not None

    # PostgreSQL.

    def pg_restart_fast(self):
        return "pg_ctl restart -m fast" if self.run.server.restart(
            "fast") else None

    def pg_restart_immediate(self):
        return "pg_ctl restart -m immediate" if self.run.server.restart(
            "immediate") else None

    def terminate_walsender(self):
        n = self.run.db.terminate("application_name = 'pulse-ingest' AND "
                                  "backend_type = 'walsender'")
        return f"{n} replication connection(s)" if n else None

    def terminate_sink(self):
        n = self.run.db.terminate("application_name = 'pulse-sink' AND "
                                  f"datname = '{self.run.db.name}'")
        return f"{n} sink connection(s)" if n else None

    def sink_lock(self):
        if self.lock is not None and self.lock.poll() is None:
            return None
        seconds = self.rng.randint(10, 30)
        self.lock = self.run.db.hold_lock(
            "pulse.activity_hour", seconds, self.run.log("lock.log"))
        return f"ACCESS EXCLUSIVE on pulse.activity_hour for {seconds}s"

    # The broker (separate processes only).

    def _errors(self, api):
        code = self.rng.choice(BROKER_ERRORS[api])
        count = self.rng.randint(1, 20)
        answer = post_fault(self.p.faults_port,
                            f"errors?api={api}&code={code}&count={count}")
        if answer and api == "commit":
            self.run.later(10, "clear commit errors",
                           lambda: post_fault(self.p.faults_port,
                                              "clear?api=commit"))
        return answer

    def errors_produce(self):
        return self._errors("produce")

    def errors_fetch(self):
        return self._errors("fetch")

    def errors_commit(self):
        return self._errors("commit")

    def errors_heartbeat(self):
        return self._errors("heartbeat")

    def broker_down(self):
        if self.down is not None:
            return None
        broker = self.rng.randint(1, 3)
        answer = post_fault(self.p.faults_port,
                            f"broker?id={broker}&state=down")
        if answer:
            self.down = broker
            seconds = self.rng.uniform(3, 8)

            def up():
                self.down = None
                post_fault(self.p.faults_port, f"broker?id={broker}&state=up")

            self.run.later(seconds, f"broker {broker} up", up, broker=True)
            answer += f" for {seconds:.1f}s"
        return answer

    def leader_move(self):
        topic = self.rng.choice(self.run.topics)
        partition = self.rng.randrange(self.run.partitions)
        broker = self.rng.randint(1, 3)
        return post_fault(
            self.p.faults_port,
            f"leader?topic={topic}&partition={partition}&broker={broker}")

    def broker_rtt(self):
        ms = self.rng.randint(100, 800)
        answer = post_fault(self.p.faults_port, f"rtt?ms={ms}")
        if answer:
            self.run.later(self.rng.uniform(3, 8), "rtt back to 0",
                           lambda: post_fault(self.p.faults_port, "rtt?ms=0"),
                           broker=True)
        return answer

    def pause_aggregator(self):
        """An aggregator stops (SIGSTOP) past its session timeout (6 s),
        is expelled, and wakes up holding batches it never published."""
        names = [n for n in ("aggregate-1", "aggregate-2")
                 if n in self.p.procs and self.p.procs[n].alive()]
        if not names:
            return None
        name = self.rng.choice(names)
        popen = self.p.procs[name].popen
        seconds = self.rng.uniform(8, 20)
        popen.send_signal(signal.SIGSTOP)

        def wake():
            if popen.poll() is None:  # not killed and restarted meanwhile
                popen.send_signal(signal.SIGCONT)

        self.run.later(seconds, f"{name} wakes up", wake)
        return f"{name} paused (SIGSTOP) for {seconds:.0f}s"

    def rebalance(self):
        """A third aggregator joins, then leaves (cleanly or by kill -9)."""
        if "aggregate-3" in self.p.procs:
            return None
        self.p.add("aggregate-3", "aggregate").start()
        seconds = self.rng.uniform(10, 25)
        clean = self.rng.random() < 0.5

        def leave():
            p = self.p.procs.pop("aggregate-3", None)
            if p is None:
                return
            if not p.alive():
                self.run.tally.say(self.p.variant, "aggregate-3 left (down)")
            elif clean:
                code = p.stop()
                self.run.tally.say(self.p.variant,
                                   f"aggregate-3 left, exit {code}")
                if code != 0:
                    self.run.result.setdefault("bad_exits", []).append(
                        f"aggregate-3 exit {code} on SIGTERM")
            else:
                self.run.tally.kill(self.p.variant, "aggregate-3", p.pid(),
                                    " (leaving the group)")
                p.kill9()

        self.run.later(seconds, "aggregate-3 leaves", leave)
        return (f"aggregate-3 joins for {seconds:.0f}s, then "
                f"{'SIGTERM' if clean else 'kill -9'}")

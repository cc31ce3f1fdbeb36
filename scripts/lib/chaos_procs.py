"""The processes of a chaos run: each `pulse` command as a supervised
child, and the two pipeline shapes (separate processes on `pulse broker`,
or `pulse run` on its embedded broker).

Children die with the run: each gets PR_SET_PDEATHSIG, and the run stops
every one it started before it returns. Only pids we started are ever
signalled.
"""

import ctypes
import os
import re
import signal
import subprocess
import time

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Proc:
    """One command, restartable; each incarnation logs to its own files
    (<name>.<n>.log for stderr, .out for stdout) in `log_dir`."""

    def __init__(self, name, argv, env, log_dir):
        self.name = name
        self.argv = argv
        self.env = env
        self.log_dir = log_dir
        self.popen = None
        self.starts = 0
        self.killed_by_us = False
        self.restart_at = None  # monotonic time of a planned restart
        # PULSE_CRASH_AT for the next incarnation only (common/crash_point.h)
        self.crash_at = None
        self.armed = None  # the current incarnation's

    def start(self):
        self.starts += 1
        stem = os.path.join(self.log_dir, f"{self.name}.{self.starts}")
        self.log_path, self.out_path = stem + ".log", stem + ".out"
        env = dict(os.environ)
        env.update(self.env)
        self.armed, self.crash_at = self.crash_at, None
        if self.armed:
            env["PULSE_CRASH_AT"] = self.armed
        with open(self.log_path, "wb") as err, \
                open(self.out_path, "wb") as out:
            self.popen = subprocess.Popen(
                self.argv, env=env, stdout=out, stderr=err,
                stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        self.killed_by_us = False
        self.restart_at = None

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def pid(self):
        return self.popen.pid if self.popen else None

    def kill9(self):
        """SIGKILL and reap; the exit is ours, not a failure."""
        if self.alive():
            self.killed_by_us = True
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait()

    def stop(self, grace=30):
        """SIGTERM, then SIGKILL after `grace`; returns the exit code."""
        if not self.alive():
            return self.popen.returncode if self.popen else None
        self.killed_by_us = True
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait()
            return -9

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, AttributeError):
            return ""

    def stdout(self):
        try:
            with open(self.out_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, AttributeError):
            return ""

    def last_error(self):
        """The final `failed` line of the current incarnation, if any."""
        lines = [l for l in self.log().splitlines() if " failed " in l]
        return lines[-1][:400] if lines else ""


class Pipeline:
    """What both shapes share: start, kill, supervise, stop."""

    def __init__(self, ctx, variant):
        self.ctx = ctx
        self.variant = variant
        self.procs = {}

    def env(self, key):
        state = os.path.join(self.ctx.work, "state", self.variant, key)
        os.makedirs(state, exist_ok=True)
        e = dict(self.ctx.base_env)
        e["PULSE_STATE_DIR"] = state
        return e

    def add(self, name, command, key=None, extra=None):
        env = self.env(key or name)
        env.update(extra or {})
        p = Proc(name, [self.ctx.pulse, command], env,
                 os.path.join(self.ctx.work, "logs", self.variant))
        self.procs[name] = p
        return p

    def kill(self, name, restart_after):
        """kill -9 `name`; it comes back after `restart_after` seconds."""
        p = self.procs[name]
        p.kill9()
        p.restart_at = time.monotonic() + restart_after

    def supervise(self, tally):
        """Restarts what is due, and what exited on its own (recording
        the exit, as an orchestrator would restart a crashed pod)."""
        now = time.monotonic()
        for p in list(self.procs.values()):
            if p.alive():
                continue
            if p.restart_at is None and not p.killed_by_us:
                code = p.popen.returncode
                point = re.search(r"crash_point point=(\S+)", p.log())
                if p.armed and point:
                    tally.crash(self.variant, p.name, p.pid(),
                                point.group(1))
                    p.restart_at = now + 0.5
                else:
                    tally.exit(self.variant, p.name, code, p.last_error())
                    p.restart_at = now + 1.0
            if p.restart_at is not None and now >= p.restart_at:
                self.restart(p)

    def restart(self, p):
        p.start()

    def stop_all(self, order):
        """SIGTERM in `order`; exit codes by name."""
        codes = {}
        for name in order:
            if name in self.procs:
                codes[name] = self.procs[name].stop()
        return codes

    def kill_all(self):
        for p in self.procs.values():
            p.kill9()


class SeparatePipeline(Pipeline):
    """`pulse broker --brokers 3 --faults`, ingest, two aggregators, sink.

    The broker keeps its data in memory: when it dies, every other process
    is restarted against the new one (the ingest replays from the slot,
    which was acknowledged only past what the sink committed)."""

    WORKERS = ("sink", "aggregate-1", "aggregate-2", "ingest")

    def __init__(self, ctx):
        super().__init__(ctx, "separate")
        self.bootstrap = None
        self.faults_port = None
        self.broker = Proc(
            "broker", [ctx.pulse, "broker", "--brokers", "3", "--partitions",
                       str(ctx.partitions), "--faults"],
            self.env("broker"), os.path.join(ctx.work, "logs", "separate"))
        self.broker_starts = 0

    def start(self):
        self.start_broker()
        self.add("sink", "sink")
        self.add("aggregate-1", "aggregate")
        self.add("aggregate-2", "aggregate")
        self.add("ingest", "ingest")
        for name in self.WORKERS:
            self.procs[name].start()

    def start_broker(self):
        """Starts the broker; its address is the first stdout line, its
        fault port the http_listening log line."""
        self.broker.start()
        self.broker_starts += 1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            out, log = self.broker.stdout(), self.broker.log()
            m = re.search(r"^bootstrap=(\S+)", out, re.M)
            h = re.search(r"http_listening .*port=(\d+)", log)
            if m and h:
                self.bootstrap = m.group(1)
                self.faults_port = int(h.group(1))
                for p in self.procs.values():
                    p.env["PULSE_KAFKA_BROKERS"] = self.bootstrap
                return
            if not self.broker.alive():
                break
            time.sleep(0.1)
        raise RuntimeError("pulse broker did not start:\n" + self.broker.log())

    def add(self, name, command, key=None, extra=None):
        extra = dict(extra or {})
        extra["PULSE_KAFKA_BROKERS"] = self.bootstrap
        return super().add(name, command, key, extra)

    def lose_broker(self, restart=True):
        """kill -9 of the broker: all data gone; everyone restarts."""
        self.broker.kill9()
        for p in self.procs.values():
            p.kill9()
        if restart:
            self.start_broker()
            for p in self.procs.values():
                p.start()

    def supervise(self, tally):
        if not self.broker.alive() and not self.broker.killed_by_us:
            tally.exit(self.variant, "broker", self.broker.popen.returncode,
                       self.broker.last_error())
            self.lose_broker()
        super().supervise(tally)

    def stop(self):
        codes = self.stop_all(["ingest"] + [n for n in self.procs
                                            if n.startswith("aggregate")] +
                              ["sink"])
        codes["broker"] = self.broker.stop()
        return codes

    def kill_all(self):
        super().kill_all()
        self.broker.kill9()


class RunPipeline(Pipeline):
    """`pulse run` alone: ingest, aggregator, sink and an embedded broker
    in one process; a kill loses the broker's data with it."""

    def __init__(self, ctx):
        super().__init__(ctx, "run")

    def start(self):
        self.add("run", "run", extra={"PULSE_KAFKA_BROKERS": ""})
        self.procs["run"].start()

    def stop(self):
        return self.stop_all(["run"])

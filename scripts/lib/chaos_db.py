"""PostgreSQL for the chaos run: queries through psql, server restarts,
backend terminations and table locks.

Everything goes through the psql and pg_ctl binaries, so the run needs
nothing beyond the Python standard library and the PostgreSQL packages.
"""

import os
import subprocess

PG_BIN = "/usr/lib/postgresql/15/bin"


class DbError(Exception):
    pass


def as_server_user(argv):
    """pg_ctl refuses root: run it as postgres when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + argv
    return argv


class Db:
    """One database on the chaos server, reached over TCP as `pulse`."""

    def __init__(self, port, name):
        self.port = port
        self.name = name

    def url(self):
        return f"postgresql://pulse@127.0.0.1:{self.port}/{self.name}"

    def _psql(self, extra):
        return ["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port),
                "-U", "pulse", "-d", self.name, "-v", "ON_ERROR_STOP=1"] + extra

    def query(self, sql, timeout=300):
        """Rows of `sql` as lists of strings ('' for null)."""
        try:
            out = subprocess.run(
                self._psql(["-At", "-F", "\t", "-c", sql]),
                capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise DbError(f"timed out after {timeout}s: {sql[:200]}") from e
        if out.returncode != 0:
            raise DbError(out.stderr.strip() or f"psql exit {out.returncode}")
        return [line.split("\t") for line in out.stdout.splitlines()]

    def try_query(self, sql, timeout=30):
        """Like query(), but None while the server is away."""
        try:
            return self.query(sql, timeout)
        except DbError:
            return None

    def scalar(self, sql, timeout=300):
        rows = self.query(sql, timeout)
        return rows[0][0] if rows and rows[0] else None

    def try_scalar(self, sql, timeout=30):
        rows = self.try_query(sql, timeout)
        return rows[0][0] if rows and rows[0] else None

    def hold_lock(self, table, seconds, log_path):
        """A psql session holding ACCESS EXCLUSIVE on `table` for `seconds`
        inside a transaction; returns its Popen (it ends by itself)."""
        script = (f"BEGIN;\nLOCK TABLE {table} IN ACCESS EXCLUSIVE MODE;\n"
                  f"SELECT pg_sleep({seconds});\nCOMMIT;\n")
        log = open(log_path, "ab")
        p = subprocess.Popen(self._psql(["-c", script]), stdout=log,
                             stderr=log, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        log.close()
        return p

    def terminate(self, where):
        """pg_terminate_backend of every backend matching `where`; returns
        how many were terminated, or None when the server is away."""
        n = self.try_scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            f"WHERE pid <> pg_backend_pid() AND {where}")
        return None if n is None else int(n)


class Server:
    """The chaos run's own server, started by scripts/lib/pg.sh."""

    def __init__(self, pg_dir, port):
        self.pg_dir = pg_dir
        self.port = port

    def db(self, name):
        return Db(self.port, name)

    def create_database(self, name):
        admin = self.db("postgres")
        admin.query(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.query(f"CREATE DATABASE {name}")
        d = self.db(name)
        d.query("CREATE EXTENSION IF NOT EXISTS hll")
        return d

    def restart(self, mode):
        """pg_ctl restart -m fast|immediate; True when it came back."""
        argv = as_server_user([
            f"{PG_BIN}/pg_ctl", "-D", f"{self.pg_dir}/data", "-m", mode,
            "-w", "-t", "120", "-l", f"{self.pg_dir}/server.log", "restart"])
        out = subprocess.run(argv, capture_output=True, text=True,
                             timeout=180)
        return out.returncode == 0

"""The chaos run's verdict, in its own SQL: every rollup table against the
raw directus_activity table, the alerts against the raw rows, and the
replication slot's retained WAL. Nothing here asks Pulse how it did.
"""

import time

GRAINS = ("minute", "hour", "day")

# Unique counts come from HyperLogLog sketches: exact up to this many
# distinct values (hll(15, 5, -1, 1) keeps them explicitly), then within
# 2 % (DESIGN.md).
EXACT_UNIQUES = 2560
UNIQUE_TOLERANCE = 0.02

# Per rollup table: key columns as (raw expression, table column), which
# raw rows count there, and values as (raw aggregate, table column).
TABLES = {
    "activity": {
        "keys": [("collection", "collection"), ("action", "action")],
        "where": "true",
        "values": [("count(*)", "activity_count")],
    },
    "collection": {
        "keys": [("collection", "collection")],
        "where": "true",
        "values": [("count(*)", "activity_count"),
                   ('count(DISTINCT "user")', "unique_users")],
        "uniques": [1],
    },
    "user": {
        "keys": [('"user"::text', "user_id")],
        "where": '"user" IS NOT NULL',
        "values": [("count(*)", "activity_count"),
                   ("count(DISTINCT collection)", "collections_count")],
        "uniques": [1],
    },
    "ip": {
        "keys": [("ip", "ip")],
        "where": "ip IS NOT NULL",
        "values": [("count(*)", "activity_count"),
                   ("count(*) FILTER (WHERE action = 'login')",
                    "login_count"),
                   ("count(DISTINCT collection)", "collections_count")],
        "uniques": [2],
    },
}


def _unique_differs(i):
    """A unique count differs: at all while exact, else past 2 %."""
    return (f"(CASE WHEN r.v{i} IS NULL OR t.v{i} IS NULL OR r.v{i} <= "
            f"{EXACT_UNIQUES} THEN r.v{i} IS DISTINCT FROM t.v{i} ELSE "
            f"abs(r.v{i} - t.v{i}) > {UNIQUE_TOLERANCE} * r.v{i} END)")


def rollup_diff_sql(stem, grain, minute_retention="7 days"):
    """Rows where the raw table and pulse.<stem>_<grain> disagree."""
    spec = TABLES[stem]
    n_keys = len(spec["keys"])
    raw_cols = [f"{raw} AS k{i}" for i, (raw, _) in enumerate(spec["keys"])]
    raw_cols += [f"{agg} AS v{i}" for i, (agg, _) in
                 enumerate(spec["values"])]
    t_cols = [f"{col} AS k{i}" for i, (_, col) in enumerate(spec["keys"])]
    t_cols += [f"{col} AS v{i}" for i, (_, col) in
               enumerate(spec["values"])]
    using = ", ".join(["b"] + [f"k{i}" for i in range(n_keys)])
    differs = " OR ".join(
        _unique_differs(i) if i in spec.get("uniques", []) else
        f"r.v{i} IS DISTINCT FROM t.v{i}"
        for i in range(len(spec["values"])))
    shown_r = ", ".join(f"r.v{i}" for i in range(len(spec["values"])))
    shown_t = ", ".join(f"t.v{i}" for i in range(len(spec["values"])))
    keys = " || ' ' || ".join(f"coalesce(k{i}::text, '?')"
                              for i in range(n_keys))
    # Minute buckets exist only inside their retention (an hour of margin
    # for the boundary); hours and days are kept for the whole history.
    recent = "true"
    if grain == "minute" and minute_retention:
        recent = (f"b >= now() - interval '{minute_retention}' "
                  "+ interval '1 hour'")
    group = ", ".join(str(i + 1) for i in range(n_keys + 1))
    return (
        f"WITH r AS (SELECT date_trunc('{grain}', timestamp, 'UTC') AS b, "
        f"{', '.join(raw_cols)} FROM directus_activity "
        f"WHERE {spec['where']} GROUP BY {group}), "
        f"t AS (SELECT bucket AS b, {', '.join(t_cols)} "
        f"FROM pulse.{stem}_{grain}) "
        f"SELECT b::text || ' ' || {keys}, "
        f"concat_ws(' ', {shown_r}), concat_ws(' ', {shown_t}) "
        f"FROM r FULL JOIN t USING ({using}) "
        f"WHERE {recent} AND ({differs})")


def compare_rollups(db):
    """(mismatch count, a few examples, rollup rows compared, rows whose
    unique count was past exact and compared within 2 %)."""
    mismatches, examples, compared, approx = 0, [], 0, 0
    for stem, spec in TABLES.items():
        for grain in GRAINS:
            rows = db.query(rollup_diff_sql(stem, grain), timeout=600)
            mismatches += len(rows)
            for r in rows[:3]:
                examples.append(
                    f"{stem}_{grain} [{r[0]}] raw=({r[1]}) rollup=({r[2]})")
            compared += int(db.scalar(
                f"SELECT count(*) FROM pulse.{stem}_{grain}"))
            for i in spec.get("uniques", []):
                approx += int(db.scalar(
                    f"SELECT count(*) FROM pulse.{stem}_{grain} WHERE "
                    f"{spec['values'][i][1]} > {EXACT_UNIQUES}"))
    return mismatches, examples, compared, approx


def applied_and_raw(db):
    """(events the sink applied, raw rows), or None while unreachable."""
    rows = db.try_query(
        "SELECT (SELECT coalesce(sum(events_applied), 0) FROM "
        "pulse.partition_state), (SELECT count(*) FROM directus_activity)")
    if not rows or rows[0][0] == "":
        return None
    return int(rows[0][0]), int(rows[0][1])


def slot_position(db, slot):
    """(confirmed_flush_lsn >= target, retained WAL bytes) helpers."""
    rows = db.try_query(
        "SELECT pg_current_wal_lsn() - restart_lsn, "
        "pg_current_wal_lsn() - confirmed_flush_lsn "
        f"FROM pg_replication_slots WHERE slot_name = '{slot}'")
    if not rows:
        return None
    return int(rows[0][0] or 0), int(rows[0][1] or 0)


def wait_wal_released(db, slot, bound, timeout, on_tick):
    """Waits until the slot retains less than `bound` bytes of WAL. The
    slot's restart_lsn moves only at a running-transactions record past
    its confirmed position, which a checkpoint writes; so one is asked
    for every 10 s. Returns the retained bytes last seen."""
    deadline = time.monotonic() + timeout
    retained, next_checkpoint = -1, time.monotonic()
    while time.monotonic() < deadline:
        on_tick()
        pos = slot_position(db, slot)
        retained = pos[0] if pos else -1
        if 0 <= retained < bound:
            return retained
        if time.monotonic() >= next_checkpoint:
            db.try_query("CHECKPOINT", timeout=120)
            next_checkpoint = time.monotonic() + 10
        time.sleep(1)
    return retained


def wait_drained(db, slot, timeout, on_tick):
    """Waits until the sink applied every raw row and the slot confirmed
    the WAL written before the wait began. Returns (ok, detail)."""
    deadline = time.monotonic() + timeout
    target = None
    while target is None and time.monotonic() < deadline:
        target = db.try_scalar("SELECT pg_current_wal_lsn()")
        time.sleep(0 if target else 1)
    last = None
    while time.monotonic() < deadline:
        on_tick()
        counts = applied_and_raw(db)
        caught = db.try_scalar(
            f"SELECT confirmed_flush_lsn >= '{target}'::pg_lsn FROM "
            f"pg_replication_slots WHERE slot_name = '{slot}'")
        last = (counts, caught)
        if counts and counts[0] == counts[1] and caught == "t":
            return True, f"applied={counts[0]} raw={counts[1]}"
        time.sleep(1)
    return False, f"applied/raw={last[0]} slot_caught_up={last[1]}"


def minute_counts(db, ip, login_only):
    """{minute index: rows} of one IP, from the raw table."""
    where = "AND action = 'login'" if login_only else ""
    rows = db.query(
        "SELECT floor(extract(epoch FROM timestamp) / 60)::bigint, count(*) "
        f"FROM directus_activity WHERE ip = '{ip}' {where} GROUP BY 1")
    return {int(m): int(c) for m, c in rows}


def expected_crossings(counts, window, threshold, strict, cooldown):
    """Window-end minutes at which the rule fires for events in time order:
    the sum over [m - window + 1, m] passes the threshold (more than it
    when strict, at least it otherwise) and the cooldown has run out."""
    fired, until = [], None
    for m in sorted(counts):
        total = sum(counts.get(x, 0) for x in range(m - window + 1, m + 1))
        crossed = total > threshold if strict else total >= threshold
        if crossed and (until is None or m >= until):
            fired.append(m)
            until = m + cooldown
    return fired


def check_alerts(db, attackers, rules):
    """Failures (strings) of the alert checks, the alert count, and the
    attackers' alerts as "ip:rule=n" strings.

    - each attacker IP has exactly one alert per crossing the raw rows
      show, for both rules;
    - no alert repeats a crossing: the same rule and IP fire again only
      after the cooldown;
    - each alert is backed by the raw rows of its window.
    """
    failures, seen = [], []
    specs = {
        "suspicious_ip": (rules["suspicious_window"],
                          rules["suspicious_threshold"], True, False),
        "login_burst": (rules["login_window"], rules["login_threshold"],
                        False, True),
    }
    for ip in attackers:
        for rule, (window, threshold, strict, logins) in specs.items():
            want = len(expected_crossings(minute_counts(db, ip, logins),
                                          window, threshold, strict,
                                          rules["cooldown"]))
            got = int(db.scalar(
                "SELECT count(*) FROM pulse.alerts WHERE "
                f"rule = '{rule}' AND ip = '{ip}'"))
            seen.append(f"{ip}:{rule}={got}")
            if got != want:
                failures.append(f"{rule} alerts for {ip}: {got}, raw rows "
                                f"cross the threshold {want} time(s)")

    # Repeats within the cooldown.
    repeats = db.query(
        "SELECT rule, ip, window_end::text FROM (SELECT rule, ip, "
        "window_end, window_end - lag(window_end) OVER (PARTITION BY rule, "
        "ip ORDER BY window_end) AS gap FROM pulse.alerts) a WHERE gap < "
        f"interval '{rules['cooldown']} minutes'")
    for r in repeats[:5]:
        failures.append(f"alert repeated within the cooldown: {r}")

    # Alerts the raw rows do not support.
    unsupported = db.query(
        "SELECT a.id, a.rule, (SELECT count(*) FROM directus_activity d "
        "WHERE d.ip = a.ip AND d.timestamp >= a.window_start AND "
        "d.timestamp < a.window_end AND (a.rule <> 'login_burst' OR "
        "d.action = 'login')) AS raw FROM pulse.alerts a")
    for alert_id, rule, raw in unsupported:
        if rule not in specs:
            failures.append(f"alert {alert_id} has an unknown rule")
            continue
        _, threshold, strict, _ = specs[rule]
        if not (int(raw) > threshold if strict else int(raw) >= threshold):
            failures.append(f"alert {alert_id} has only {raw} raw rows")
    total = int(db.scalar("SELECT count(*) FROM pulse.alerts"))
    return failures, total, seen

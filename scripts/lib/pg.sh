# Sourced by scripts: a local PostgreSQL 15 in a folder the script owns, with
# wal_level=logical and the hll extension available. Runs as the postgres
# OS user when the script runs as root (initdb refuses root).

PG_BIN=/usr/lib/postgresql/15/bin

pulse_pg_as_server_user() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# pulse_pg_start DIR PORT: initdb if needed, then start on 127.0.0.1:PORT.
pulse_pg_start() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$dir"
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    pulse_pg_as_server_user "$PG_BIN/initdb" -D "$dir/data" -U pulse \
      --auth-local=trust --auth-host=trust -E UTF8 --locale=C.UTF-8 \
      >"$dir/initdb.log" 2>&1
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
shared_buffers = 512MB
max_wal_size = 4GB
synchronous_commit = off
log_min_messages = warning
CONF
  fi
  if ! pulse_pg_as_server_user "$PG_BIN/pg_ctl" -D "$dir/data" status \
    >/dev/null 2>&1; then
    pulse_pg_as_server_user "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" \
      -o "-p $port" -w -t 60 start >/dev/null
  fi
}

# pulse_pg_stop DIR
pulse_pg_stop() {
  pulse_pg_as_server_user "$PG_BIN/pg_ctl" -D "$1/data" -m fast -w stop \
    >/dev/null 2>&1 || true
}

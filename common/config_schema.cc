// The one table of every configuration key. Adding a key here makes it
// loadable from YAML, overridable from PULSE_* variables, validated, and
// listed by `pulse config --reference`.

#include "common/config.h"

namespace pulse {

namespace {

using T = ConfigType;

const std::vector<ConfigKey> kSchema = {
    // Connections.
    {"source.url", T::kString, "",
     "libpq URL of the Directus database (replication source)", "", true},
    {"target.url", T::kString, "",
     "libpq URL of the analytics database; empty means source.url", "", true},
    {"kafka.brokers", T::kString, "",
     "bootstrap servers; empty in `pulse run` starts the embedded broker"},
    {"kafka.topic_prefix", T::kString, "directus",
     "prefix of the topics: <prefix>.activity, .rollups, .alerts, .dlq"},
    {"kafka.partitions", T::kInt, "6",
     "partitions of each topic the embedded broker creates (`pulse run`, "
     "`pulse broker`)"},
    {"kafka.properties", T::kMap, "",
     "extra librdkafka properties (security.protocol, sasl.*, ...)", "", true},
    {"state_dir", T::kString, "./pulse-state",
     "folder for local state (RocksDB, ingest checkpoint)"},

    // Operations.
    {"http.port", T::kInt, "9464",
     "port of /metrics, /healthz, /readyz; 0 picks a free one"},
    {"http.bind", T::kString, "0.0.0.0", "address the HTTP server binds"},
    {"log.level", T::kEnum, "info", "least severe level logged",
     "trace|debug|info|warn|error"},
    {"log.format", T::kEnum, "text",
     "text (key=value) or json (one object per line)", "text|json"},
    {"progress_interval", T::kDuration, "5s",
     "how often long-running commands log a progress line"},

    // Ingest.
    {"ingest.table", T::kString, "public.directus_activity",
     "the activity table, schema-qualified"},
    {"ingest.publication", T::kString, "pulse",
     "publication created (inserts only) when absent"},
    {"ingest.slot", T::kString, "pulse",
     "logical replication slot created when absent, never dropped"},
    {"ingest.snapshot", T::kEnum, "initial",
     "copy existing rows when the slot is created (initial) or not (never)",
     "initial|never"},
    {"ingest.snapshot_checkpoint_rows", T::kInt, "50000",
     "rows between snapshot checkpoints (bounds the redo after a crash)"},
    {"ingest.status_interval", T::kDuration, "1s",
     "how often the slot position is reported to PostgreSQL"},
    {"ingest.heartbeat_interval", T::kDuration, "30s",
     "pg_logical_emit_message interval keeping an idle slot moving; 0 off"},
    {"ingest.ack", T::kEnum, "auto",
     "acknowledge WAL when messages are delivered to Kafka (delivered), or "
     "when the sink has committed their rollups (sink); auto picks sink "
     "with the embedded broker",
     "auto|delivered|sink"},
    {"ingest.max_in_flight", T::kInt, "200000",
     "messages produced but not yet delivered before reading pauses"},
    {"ingest.max_ahead", T::kInt, "-1",
     "messages a partition may run ahead of the aggregator's durable "
     "position before reading pauses; 0 is unbounded, -1 picks a bound "
     "that fits the embedded broker's retention"},
    {"ingest.compression", T::kEnum, "lz4", "producer compression",
     "none|gzip|snappy|lz4|zstd"},

    // Aggregator.
    {"aggregator.group", T::kString, "pulse-aggregator",
     "consumer group of the aggregators"},
    {"aggregator.flush_interval", T::kDuration, "500ms",
     "how often changes are published to the rollups topic"},
    {"aggregator.max_batch_bytes", T::kInt, "900000",
     "a partition's open batch is published early once its rollup message "
     "reaches about this size (Kafka's message.max.bytes is 1 MB)"},
    {"aggregator.max_message_bytes", T::kInt, "1000000",
     "activity messages larger than this go to the dead-letter topic"},
    {"aggregator.allow_late_start", T::kBool, "false",
     "on a first start, accept that the topic's earliest messages are "
     "gone (expired before Pulse was deployed) instead of failing"},

    // Retention of rollup buckets (aggregator and sink).
    {"retention.minute", T::kDuration, "7d",
     "minute buckets older than this are dropped; 0 keeps them"},
    {"retention.hour", T::kDuration, "90d",
     "hour buckets older than this are dropped; 0 keeps them"},
    {"retention.day", T::kDuration, "0", "day buckets; 0 keeps them"},

    // Alerts.
    {"alerts.suspicious.threshold", T::kInt, "100",
     "more than this many actions from one IP in the window fire an alert"},
    {"alerts.suspicious.window", T::kDuration, "60m",
     "sliding window of the suspicious-IP rule (minute resolution)"},
    {"alerts.suspicious.cooldown", T::kDuration, "60m",
     "after an alert, the same IP is not alerted again for this long"},
    {"alerts.login_burst.threshold", T::kInt, "20",
     "at least this many logins from one IP in the window fire an alert"},
    {"alerts.login_burst.window", T::kDuration, "10m",
     "window of the login-burst rule"},
    {"alerts.allow_list", T::kList, "",
     "IPs and CIDRs never alerted (flows, health checks, known proxies)"},
    {"alerts.proxy_share", T::kInt, "50",
     "warn when one private address sends more than this percent of "
     "traffic (Directus behind a proxy it does not trust)"},

    // Sink.
    {"sink.group", T::kString, "pulse-sink", "consumer group of the sink"},
    {"sink.batch_messages", T::kInt, "200",
     "rollup messages applied per PostgreSQL transaction at most"},
    {"sink.retention_interval", T::kDuration, "10m",
     "how often expired buckets are deleted"},
};

}  // namespace

const std::vector<ConfigKey>& ConfigSchema() { return kSchema; }

}  // namespace pulse

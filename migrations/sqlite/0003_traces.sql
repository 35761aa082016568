-- Traces shipped by managed gateways, and per-installation secrets. SQLite dialect; keep in
-- step with ../postgres/0003_traces.sql.

-- One request as a gateway reported it. The columns the list and dashboard filter on are
-- copied out of the record (the whole record is `record`, JSON text). `started_at` is the
-- record's time normalised to RFC 3339 UTC with milliseconds, so text order is time order.
CREATE TABLE traces (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    trace_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    gateway TEXT NOT NULL,
    route TEXT NOT NULL,
    prompt TEXT,
    prompt_version INTEGER,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error', 'cancelled')),
    cache TEXT NOT NULL,
    latency_ms REAL NOT NULL,
    cost_usd REAL NOT NULL,
    started_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    record TEXT NOT NULL,
    UNIQUE (project_id, trace_id)
);

CREATE INDEX traces_by_time ON traces (project_id, started_at, id);
CREATE INDEX traces_by_environment ON traces (project_id, environment, started_at);
CREATE INDEX traces_by_route ON traces (project_id, route, started_at);
CREATE INDEX traces_by_prompt ON traces (project_id, prompt, prompt_version, started_at);
CREATE INDEX traces_by_trace_id ON traces (trace_id);

-- Secrets generated once per installation (e.g. the access-token signing key).
CREATE TABLE installation_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Deployments, checks, canaries, environment configs, policies and gateway keys, SQLite
-- dialect. Keep in step with ../postgres/0002_deployments.sql.

-- API keys gain the `gateway` role: SQLite cannot alter a CHECK, so the table is rebuilt
-- (ids kept; nothing references api_keys by foreign key).
CREATE TABLE api_keys_v2 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    prefix TEXT NOT NULL UNIQUE,
    hash TEXT NOT NULL,
    name TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id),
    project_id INTEGER REFERENCES projects(id),
    role TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'viewer', 'gateway')),
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT
);
INSERT INTO api_keys_v2 (id, prefix, hash, name, user_id, project_id, role, created_at, expires_at, revoked_at)
    SELECT id, prefix, hash, name, user_id, project_id, role, created_at, expires_at, revoked_at FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_v2 RENAME TO api_keys;

ALTER TABLE projects ADD COLUMN required_checks TEXT NOT NULL DEFAULT '[]';
ALTER TABLE projects ADD COLUMN capture_payloads INTEGER NOT NULL DEFAULT 0;

ALTER TABLE prompt_versions ADD COLUMN role TEXT NOT NULL DEFAULT 'system'
    CHECK (role IN ('system', 'developer', 'user'));
ALTER TABLE prompt_versions ADD COLUMN mode TEXT NOT NULL DEFAULT 'prefix'
    CHECK (mode IN ('prefix', 'replace'));

DROP TRIGGER prompt_versions_immutable;
CREATE TRIGGER prompt_versions_immutable
BEFORE UPDATE OF id, prompt_id, version, body, variables, engine, notes, created_by, created_at, role, mode
ON prompt_versions
BEGIN
    SELECT RAISE(ABORT, 'prompt versions are immutable');
END;

-- Results of a version's checks; the latest result per name counts.
CREATE TABLE version_checks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    version_id INTEGER NOT NULL REFERENCES prompt_versions(id),
    name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('passed', 'failed')),
    details TEXT,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL
);
CREATE INDEX version_checks_by_version ON version_checks (version_id, name, id);

-- The history of label moves: stable deployments, canaries, cleared canaries, rollbacks.
CREATE TABLE deployments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    prompt_id INTEGER NOT NULL REFERENCES prompts(id),
    prompt_version_id INTEGER NOT NULL REFERENCES prompt_versions(id),
    version INTEGER NOT NULL,
    environment TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('stable', 'canary', 'canary_cleared', 'rollback')),
    canary_percent INTEGER,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL
);
CREATE INDEX deployments_by_prompt ON deployments (prompt_id, id);

-- A canary version taking `percent` of a label's traffic, over the label's stable version.
CREATE TABLE canaries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    prompt_id INTEGER NOT NULL REFERENCES prompts(id),
    label TEXT NOT NULL,
    version_id INTEGER NOT NULL REFERENCES prompt_versions(id),
    percent INTEGER NOT NULL CHECK (percent BETWEEN 1 AND 99),
    updated_by INTEGER NOT NULL REFERENCES users(id),
    updated_at TEXT NOT NULL,
    UNIQUE (prompt_id, label)
);

-- The gateway config document (YAML) of each environment of a project.
CREATE TABLE environment_configs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    environment TEXT NOT NULL,
    yaml TEXT NOT NULL,
    updated_by INTEGER NOT NULL REFERENCES users(id),
    updated_at TEXT NOT NULL,
    UNIQUE (project_id, environment)
);

-- Routing policy documents (YAML with a `policies` list), merged into every environment.
CREATE TABLE policies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    name TEXT NOT NULL,
    yaml TEXT NOT NULL,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    UNIQUE (project_id, name)
);

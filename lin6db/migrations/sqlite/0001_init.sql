-- lin6agentd schema, SQLite dialect. The PostgreSQL twin is
-- migrations/postgres/0001_init.sql: same tables, same column names and
-- types the shared queries rely on (integers, text), so that one set of
-- queries serves both through sqlx's Any driver.

-- node_id is the EUI-64 text form NodeId prints ("02:01:4a:00:00:00:00:01"),
-- secret the key in hex: readable with the sqlite3 or psql shell, and no
-- BLOB/BYTEA difference between the dialects.
CREATE TABLE subscribers (
    node_id       TEXT    PRIMARY KEY NOT NULL,
    key_id        INTEGER NOT NULL CHECK (key_id BETWEEN 0 AND 4294967295),
    secret        TEXT    NOT NULL,
    level         TEXT    NOT NULL CHECK (level IN ('normal', 'premium')),
    enabled       INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    -- Replay state: the last sequence number accepted from this node, so a
    -- restarted agent (or another replica) still refuses old requests.
    last_sequence INTEGER CHECK (last_sequence BETWEEN 0 AND 4294967295),
    created_at    INTEGER NOT NULL
);

CREATE TABLE mappings (
    node_id       TEXT    PRIMARY KEY NOT NULL
                          REFERENCES subscribers (node_id) ON DELETE CASCADE,
    prefix        TEXT    NOT NULL,
    req_timestamp INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    sequence      INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE INDEX mappings_expires_at ON mappings (expires_at);

-- SQLite has no LISTEN/NOTIFY: triggers log every mapping change and the
-- agent polls the log, so that changes made by another process (the
-- `subscriber` commands) reach its cache.
CREATE TABLE mapping_changes (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    node_id TEXT NOT NULL
);

CREATE TRIGGER mappings_log_insert AFTER INSERT ON mappings
BEGIN
    INSERT INTO mapping_changes (node_id) VALUES (NEW.node_id);
END;

CREATE TRIGGER mappings_log_update AFTER UPDATE ON mappings
BEGIN
    INSERT INTO mapping_changes (node_id) VALUES (NEW.node_id);
END;

CREATE TRIGGER mappings_log_delete AFTER DELETE ON mappings
BEGIN
    INSERT INTO mapping_changes (node_id) VALUES (OLD.node_id);
END;

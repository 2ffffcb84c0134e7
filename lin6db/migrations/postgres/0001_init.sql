-- lin6agentd schema, PostgreSQL dialect. Twin of migrations/sqlite/0001_init.sql:
-- same tables and column names; integers are BIGINT so that the shared
-- queries can bind 64-bit values everywhere.

CREATE TABLE subscribers (
    node_id       TEXT    PRIMARY KEY NOT NULL,
    key_id        BIGINT  NOT NULL CHECK (key_id BETWEEN 0 AND 4294967295),
    secret        TEXT    NOT NULL,
    level         TEXT    NOT NULL CHECK (level IN ('normal', 'premium')),
    enabled       BIGINT  NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    last_sequence BIGINT  CHECK (last_sequence BETWEEN 0 AND 4294967295),
    created_at    BIGINT  NOT NULL
);

CREATE TABLE mappings (
    node_id       TEXT    PRIMARY KEY NOT NULL
                          REFERENCES subscribers (node_id) ON DELETE CASCADE,
    prefix        TEXT    NOT NULL,
    req_timestamp BIGINT  NOT NULL,
    expires_at    BIGINT  NOT NULL,
    sequence      BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

CREATE INDEX mappings_expires_at ON mappings (expires_at);

-- Every change to a mapping, whoever makes it (an agent, `lin6agentd
-- subscriber del`, an operator in psql), notifies every agent that LISTENs,
-- so replicas sharing this database update or drop their cached copy.
-- Notifications are sent at commit, in commit order, never for a rolled-back
-- change. The payload carries the new row ("u node prefix req_timestamp
-- expires_at sequence") or the deletion ("d node"), so a replica applies it
-- without reading the database back.
CREATE FUNCTION lin6_mapping_notify() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('lin6_mappings', 'd ' || OLD.node_id);
    ELSE
        PERFORM pg_notify('lin6_mappings', concat_ws(' ', 'u', NEW.node_id, NEW.prefix,
            NEW.req_timestamp, NEW.expires_at, NEW.sequence));
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER mappings_notify
    AFTER INSERT OR UPDATE OR DELETE ON mappings
    FOR EACH ROW EXECUTE FUNCTION lin6_mapping_notify();

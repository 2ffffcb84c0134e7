-- A registration is one statement: an upsert into `mappings` that checks
-- the subscriber (enabled, key) and the freshness of the sequence number
-- (lin6db's Store::register). The replay state stays with the subscriber,
-- so that it outlives the mapping (expiry, disabling); this trigger
-- advances it as part of that same statement.
CREATE TRIGGER mappings_replay_state_insert AFTER INSERT ON mappings
BEGIN
    UPDATE subscribers SET last_sequence = NEW.sequence WHERE node_id = NEW.node_id;
END;

CREATE TRIGGER mappings_replay_state_update AFTER UPDATE OF sequence ON mappings
BEGIN
    UPDATE subscribers SET last_sequence = NEW.sequence WHERE node_id = NEW.node_id;
END;

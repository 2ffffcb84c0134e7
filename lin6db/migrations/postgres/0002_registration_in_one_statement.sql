-- A registration is one statement: an upsert into `mappings` that checks
-- the subscriber (enabled, key) and the freshness of the sequence number
-- (lin6db's Store::register). The replay state stays with the subscriber,
-- so that it outlives the mapping (expiry, disabling); this trigger
-- advances it as part of that same statement.
--
-- It also closes a race the statement alone leaves open between replicas:
-- the upsert read the subscriber as enabled, while a concurrent `subscriber
-- disable` (which updates the subscriber, then deletes the mapping) had not
-- committed yet. The UPDATE here waits for that transaction's row lock and
-- re-reads the row; finding it disabled (or gone), it aborts the
-- registration rather than leave a mapping for a disabled subscriber.
CREATE FUNCTION lin6_mapping_replay_state() RETURNS trigger AS $$
BEGIN
    UPDATE subscribers SET last_sequence = NEW.sequence
        WHERE node_id = NEW.node_id AND enabled = 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'lin6: subscriber % is not enabled', NEW.node_id;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER mappings_replay_state
    AFTER INSERT OR UPDATE OF sequence ON mappings
    FOR EACH ROW EXECUTE FUNCTION lin6_mapping_replay_state();

-- seq assignment on scope_events: gapless per scope and in commit order. The next seq is
-- taken from scopes.last_seq under that row's lock, which the inserting transaction holds
-- until it commits, so a concurrent writer waits and then takes the following number; a
-- rolled-back insert gives its number back. The log is append-only.
CREATE FUNCTION scope_events_assign_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE scopes SET last_seq = last_seq + 1 WHERE id = NEW.scope_id RETURNING last_seq INTO NEW.seq;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'scope % does not exist', NEW.scope_id USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER scope_events_assign_seq BEFORE INSERT ON scope_events
  FOR EACH ROW EXECUTE FUNCTION scope_events_assign_seq();
--> statement-breakpoint
CREATE FUNCTION scope_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.seq <> OLD.seq OR NEW.scope_id <> OLD.scope_id OR NEW.type <> OLD.type THEN
    RAISE EXCEPTION 'scope_events is append-only: seq, scope and type cannot change' USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER scope_events_append_only BEFORE UPDATE ON scope_events
  FOR EACH ROW EXECUTE FUNCTION scope_events_append_only();

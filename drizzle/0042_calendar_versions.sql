-- A calendar version per scope, raised by every write to its series or their overrides,
-- whichever code path writes (create, edit, split, import, delete, a scope's cascade).
-- Listings key their in-process cache of series rows and overrides by it
-- (src/events/series-cache.ts): each page reads the versions of its scopes in the same
-- query as the scopes themselves, so a write on any instance is seen by the next page on
-- every instance. No foreign key: a scope's hard delete cascades to its events, whose
-- trigger then still records the bump (a row for a gone scope is never read again).
CREATE TABLE "calendar_versions" (
  "scope_id" uuid PRIMARY KEY NOT NULL,
  "version" bigint NOT NULL
);
--> statement-breakpoint
CREATE FUNCTION calendar_version_bump(sid uuid) RETURNS void LANGUAGE sql AS $$
  INSERT INTO calendar_versions (scope_id, version) VALUES (sid, 1)
  ON CONFLICT (scope_id) DO UPDATE SET version = calendar_versions.version + 1;
$$;
--> statement-breakpoint
CREATE FUNCTION events_calendar_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN PERFORM calendar_version_bump(OLD.scope_id); END IF;
  IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.scope_id IS DISTINCT FROM OLD.scope_id) THEN PERFORM calendar_version_bump(NEW.scope_id); END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER events_calendar_version AFTER INSERT OR UPDATE OR DELETE ON events FOR EACH ROW EXECUTE FUNCTION events_calendar_version();
--> statement-breakpoint
-- An override's scope is its series'. When the series itself is being deleted (the
-- cascade), the series' own trigger has bumped the version already and none is found here.
CREATE FUNCTION event_overrides_calendar_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  sid uuid;
BEGIN
  IF TG_OP <> 'INSERT' THEN
    SELECT scope_id INTO sid FROM events WHERE id = OLD.event_id;
    IF sid IS NOT NULL THEN PERFORM calendar_version_bump(sid); END IF;
  END IF;
  IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.event_id IS DISTINCT FROM OLD.event_id) THEN
    SELECT scope_id INTO sid FROM events WHERE id = NEW.event_id;
    IF sid IS NOT NULL THEN PERFORM calendar_version_bump(sid); END IF;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER event_overrides_calendar_version AFTER INSERT OR UPDATE OR DELETE ON event_overrides FOR EACH ROW EXECUTE FUNCTION event_overrides_calendar_version();

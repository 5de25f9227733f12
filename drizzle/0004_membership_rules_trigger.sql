-- Membership rules: joining a child scope requires membership of its parent; leaving or
-- being removed from a scope removes the memberships below it; a community or group can
-- never lose its last owner. The owner check locks the scope row first, so two owners
-- demoting each other at the same moment are serialised and the second one is refused.
CREATE FUNCTION memberships_require_parent() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  parent_id uuid;
BEGIN
  SELECT s.parent_id INTO parent_id FROM scopes s WHERE s.id = NEW.scope_id;
  IF parent_id IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.scope_id = parent_id AND m.user_id = NEW.user_id) THEN
    RAISE EXCEPTION 'joining a scope requires membership of its parent' USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER memberships_require_parent BEFORE INSERT ON memberships
  FOR EACH ROW EXECUTE FUNCTION memberships_require_parent();
--> statement-breakpoint
CREATE FUNCTION memberships_cascade_down() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM memberships m
   USING scopes s
   WHERE m.user_id = OLD.user_id AND m.scope_id = s.id AND OLD.scope_id = ANY (s.path);
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER memberships_cascade_down AFTER DELETE ON memberships
  FOR EACH ROW EXECUTE FUNCTION memberships_cascade_down();
--> statement-breakpoint
CREATE FUNCTION memberships_keep_last_owner() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  s scopes%ROWTYPE;
BEGIN
  IF NOT OLD.is_owner OR (TG_OP = 'UPDATE' AND NEW.is_owner) THEN
    RETURN NULL;
  END IF;
  -- The scope row lock serialises concurrent owner changes of one scope.
  SELECT * INTO s FROM scopes WHERE id = OLD.scope_id FOR UPDATE;
  IF NOT FOUND OR s.kind NOT IN ('community', 'group') OR s.deleted_at IS NOT NULL THEN
    RETURN NULL; -- the scope itself is going away, or it is a room or dm
  END IF;
  IF NOT EXISTS (SELECT 1 FROM memberships WHERE scope_id = OLD.scope_id AND is_owner) THEN
    RAISE EXCEPTION 'a % must keep at least one owner', s.kind USING ERRCODE = 'check_violation',
      HINT = 'add another owner first';
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER memberships_keep_last_owner AFTER DELETE OR UPDATE OF is_owner ON memberships
  FOR EACH ROW EXECUTE FUNCTION memberships_keep_last_owner();

-- The last-owner rule counts owners of an ancestor (issue 10): owners of a community or
-- group are owners of its whole subtree, so a group whose own owners all go (its creator
-- kicked from the community, or stepping down) still has owners above it. Only a
-- community, which has no ancestor, must keep an owner of its own. The scope row lock
-- still serialises concurrent owner changes of one scope.
CREATE OR REPLACE FUNCTION memberships_keep_last_owner() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  s scopes%ROWTYPE;
BEGIN
  IF NOT OLD.is_owner OR (TG_OP = 'UPDATE' AND NEW.is_owner) THEN
    RETURN NULL;
  END IF;
  SELECT * INTO s FROM scopes WHERE id = OLD.scope_id FOR UPDATE;
  IF NOT FOUND OR s.kind NOT IN ('community', 'group') OR s.deleted_at IS NOT NULL THEN
    RETURN NULL; -- the scope itself is going away, or it is a room or dm
  END IF;
  IF NOT EXISTS (
    SELECT 1 FROM memberships m
     WHERE m.is_owner AND (m.scope_id = OLD.scope_id OR m.scope_id = ANY (s.path))
  ) THEN
    RAISE EXCEPTION 'a % must keep at least one owner', s.kind USING ERRCODE = 'check_violation',
      HINT = 'add another owner first';
  END IF;
  RETURN NULL;
END $$;

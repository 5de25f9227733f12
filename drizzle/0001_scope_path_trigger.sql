-- Scope nesting rules and the materialised ancestor path.
-- community: no parent. dm: no parent. group: parent is a community or a group (a subgroup).
-- room: parent is a community or a group. A scope is at most 6 levels deep (depth 0..5),
-- the limit `limits.scopeMaxDepth` in src/config.ts mirrors. Moving a scope (parent_id
-- change) rewrites the path of its whole subtree and refuses cycles and a move to
-- another community.
ALTER TABLE scopes ADD CONSTRAINT scopes_kind_check CHECK (kind IN ('community', 'group', 'room', 'dm'));
--> statement-breakpoint
ALTER TABLE scopes ADD CONSTRAINT scopes_visibility_check CHECK (visibility IN ('public', 'private', 'secret'));
--> statement-breakpoint
CREATE FUNCTION scopes_set_path() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  parent scopes%ROWTYPE;
  max_depth CONSTANT int := 5;
  subtree_height int;
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.parent_id IS NOT DISTINCT FROM OLD.parent_id
     AND NEW.path = OLD.path AND NEW.depth = OLD.depth AND NEW.kind = OLD.kind THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.kind <> OLD.kind THEN
    RAISE EXCEPTION 'a scope''s kind cannot change' USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.parent_id IS NULL THEN
    IF NEW.kind NOT IN ('community', 'dm') THEN
      RAISE EXCEPTION 'a % needs a parent community or group', NEW.kind USING ERRCODE = 'check_violation';
    END IF;
    NEW.path := '{}';
    NEW.depth := 0;
    RETURN NEW;
  END IF;
  IF NEW.kind IN ('community', 'dm') THEN
    RAISE EXCEPTION 'a % cannot have a parent', NEW.kind USING ERRCODE = 'check_violation';
  END IF;
  SELECT * INTO parent FROM scopes WHERE id = NEW.parent_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'parent scope % does not exist', NEW.parent_id USING ERRCODE = 'foreign_key_violation';
  END IF;
  IF parent.kind NOT IN ('community', 'group') THEN
    RAISE EXCEPTION 'a % cannot be placed under a %', NEW.kind, parent.kind USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.id = parent.id OR NEW.id = ANY (parent.path) THEN
    RAISE EXCEPTION 'a scope cannot be moved under itself or its own descendant' USING ERRCODE = 'check_violation';
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.path[1] IS DISTINCT FROM COALESCE(parent.path[1], parent.id) THEN
    RAISE EXCEPTION 'a scope can only move within its own community' USING ERRCODE = 'check_violation';
  END IF;
  NEW.path := parent.path || parent.id;
  NEW.depth := parent.depth + 1;
  subtree_height := 0;
  IF TG_OP = 'UPDATE' THEN
    SELECT COALESCE(MAX(depth), OLD.depth) - OLD.depth INTO subtree_height FROM scopes WHERE OLD.id = ANY (path);
  END IF;
  IF NEW.depth + subtree_height > max_depth THEN
    RAISE EXCEPTION 'scopes nest at most % levels deep', max_depth + 1 USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER scopes_set_path BEFORE INSERT OR UPDATE OF parent_id, path, depth, kind ON scopes
  FOR EACH ROW EXECUTE FUNCTION scopes_set_path();
--> statement-breakpoint
-- After a move, every descendant's path is the new path of the moved scope plus the
-- part of its old path below it.
CREATE FUNCTION scopes_move_subtree() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.path IS DISTINCT FROM OLD.path THEN
    UPDATE scopes
       SET path = NEW.path || NEW.id || path[array_position(path, NEW.id) + 1:],
           depth = cardinality(NEW.path) + 1 + (cardinality(path) - array_position(path, NEW.id))
     WHERE NEW.id = ANY (path);
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER scopes_move_subtree AFTER UPDATE OF parent_id ON scopes
  FOR EACH ROW EXECUTE FUNCTION scopes_move_subtree();

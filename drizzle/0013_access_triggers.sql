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
--> statement-breakpoint
-- A mention notifies only a user who can read the message (issue 10): the application
-- names them per transaction in `guildhall.mention_readers` (comma-separated user ids,
-- decided by the permission helper: View and ReadHistory in the scope); a writer that
-- does not set it (raw SQL; unset reads as NULL or '') notifies members of the scope and
-- owners of an ancestor.
CREATE OR REPLACE FUNCTION message_mentions_user_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  author uuid;
  readers text;
BEGIN
  IF NEW.kind <> 'user' THEN
    RETURN NULL;
  END IF;
  SELECT author_id INTO author FROM messages WHERE id = NEW.message_id;
  IF author IS NOT DISTINCT FROM NEW.target_id OR NOT EXISTS (SELECT 1 FROM users WHERE id = NEW.target_id) THEN
    RETURN NULL;
  END IF;
  readers := current_setting('guildhall.mention_readers', true);
  IF readers IS NOT NULL AND readers <> '' THEN
    IF NOT (NEW.target_id::text = ANY (string_to_array(readers, ','))) THEN
      RETURN NULL;
    END IF;
  ELSIF NOT EXISTS (
    SELECT 1 FROM memberships m JOIN scopes s ON s.id = NEW.scope_id
     WHERE m.user_id = NEW.target_id
       AND (m.scope_id = NEW.scope_id OR (m.is_owner AND m.scope_id = ANY (s.path)))
  ) THEN
    RETURN NULL;
  END IF;
  INSERT INTO user_events (user_id, seq, type, payload)
  VALUES (NEW.target_id, 0, 'mention', jsonb_build_object('scopeId', NEW.scope_id, 'messageId', NEW.message_id, 'authorId', author));
  RETURN NULL;
END $$;

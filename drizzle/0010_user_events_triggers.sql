-- The per-user log behind me.onEvent. seq is gapless per user, taken from
-- user_streams.last_seq under that row's lock (like scope_events). Rows are written here,
-- by triggers, so a membership or mention written by any code path reaches the user's
-- stream; the writer pokes the stream after commit, and a periodic sweep is the safety net.
CREATE FUNCTION user_events_assign_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO user_streams (user_id) VALUES (NEW.user_id) ON CONFLICT (user_id) DO NOTHING;
  UPDATE user_streams SET last_seq = last_seq + 1 WHERE user_id = NEW.user_id RETURNING last_seq INTO NEW.seq;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER user_events_assign_seq BEFORE INSERT ON user_events
  FOR EACH ROW EXECUTE FUNCTION user_events_assign_seq();
--> statement-breakpoint
-- Joining and leaving. A DM appears as dm.opened. The reason of a removal (kicked, banned,
-- removed) is what the transaction set in guildhall.membership_reason, else 'left'.
CREATE FUNCTION memberships_user_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  k text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT kind INTO k FROM scopes WHERE id = NEW.scope_id;
    IF k = 'dm' THEN
      INSERT INTO user_events (user_id, seq, type, payload)
      VALUES (NEW.user_id, 0, 'dm.opened', jsonb_build_object('scopeId', NEW.scope_id));
    ELSE
      INSERT INTO user_events (user_id, seq, type, payload)
      VALUES (NEW.user_id, 0, 'membership.changed', jsonb_build_object('scopeId', NEW.scope_id, 'change', 'joined'));
    END IF;
    RETURN NULL;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM users WHERE id = OLD.user_id) THEN
    RETURN NULL; -- the user itself is being deleted
  END IF;
  INSERT INTO user_events (user_id, seq, type, payload)
  VALUES (OLD.user_id, 0, 'membership.changed', jsonb_build_object(
    'scopeId', OLD.scope_id,
    'change', COALESCE(NULLIF(current_setting('guildhall.membership_reason', true), ''), 'left')));
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER memberships_user_events AFTER INSERT OR DELETE ON memberships
  FOR EACH ROW EXECUTE FUNCTION memberships_user_events();
--> statement-breakpoint
-- A direct mention (<@userId>) reaches the mentioned user's stream; mentioning oneself does not.
CREATE FUNCTION message_mentions_user_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  author uuid;
BEGIN
  IF NEW.kind <> 'user' THEN
    RETURN NULL;
  END IF;
  SELECT author_id INTO author FROM messages WHERE id = NEW.message_id;
  IF author IS DISTINCT FROM NEW.target_id AND EXISTS (SELECT 1 FROM users WHERE id = NEW.target_id) THEN
    INSERT INTO user_events (user_id, seq, type, payload)
    VALUES (NEW.target_id, 0, 'mention', jsonb_build_object('scopeId', NEW.scope_id, 'messageId', NEW.message_id, 'authorId', author));
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER message_mentions_user_events AFTER INSERT ON message_mentions
  FOR EACH ROW EXECUTE FUNCTION message_mentions_user_events();

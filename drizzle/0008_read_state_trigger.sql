-- Read state and thread counters, kept by triggers so that no read scans history.
--
-- read_states(scope_id, user_id) exists exactly while the membership does. Its counters:
--   unread_count  = messages with seq > last_read_seq, not authored by the user, not deleted;
--   mention_count = those of them that mention the user directly (message_mentions kind
--                   'user') or through @everyone (messages.mention_everyone).
-- Every change to a message (insert, soft delete, @everyone flag) or to its mention rows
-- applies the difference to the rows with last_read_seq < the message's seq. Message
-- writers hold the scope row lock (the seq trigger), so the counters of one scope are
-- changed by one writer at a time. Moving last_read_seq forward recounts only the part
-- still unread (nothing when it reaches the scope's last seq, the usual case); it never
-- moves back. Sending a message marks the scope read for its author, as Slack and Discord do.
CREATE FUNCTION read_states_on_membership() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    -- A new member starts with the history read: joining does not make it unread.
    INSERT INTO read_states (scope_id, user_id, last_read_seq)
    SELECT NEW.scope_id, NEW.user_id, s.last_seq FROM scopes s WHERE s.id = NEW.scope_id
    ON CONFLICT (scope_id, user_id) DO NOTHING;
  ELSE
    DELETE FROM read_states WHERE scope_id = OLD.scope_id AND user_id = OLD.user_id;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER read_states_on_membership AFTER INSERT OR DELETE ON memberships
  FOR EACH ROW EXECUTE FUNCTION read_states_on_membership();
--> statement-breakpoint
INSERT INTO read_states (scope_id, user_id, last_read_seq)
SELECT m.scope_id, m.user_id, s.last_seq FROM memberships m JOIN scopes s ON s.id = m.scope_id
ON CONFLICT (scope_id, user_id) DO NOTHING;
--> statement-breakpoint
CREATE FUNCTION read_states_monotonic() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  scope_last bigint;
BEGIN
  IF NEW.last_read_seq < OLD.last_read_seq THEN
    NEW.last_read_seq := OLD.last_read_seq;
  END IF;
  IF NEW.last_read_seq > OLD.last_read_seq THEN
    NEW.updated_at := now();
    SELECT last_seq INTO scope_last FROM scopes WHERE id = NEW.scope_id;
    IF NEW.last_read_seq >= scope_last THEN
      NEW.unread_count := 0;
      NEW.mention_count := 0;
    ELSE
      SELECT count(*),
             count(*) FILTER (WHERE m.mention_everyone OR EXISTS (
               SELECT 1 FROM message_mentions mm
                WHERE mm.message_id = m.id AND mm.kind = 'user' AND mm.target_id = NEW.user_id))
        INTO NEW.unread_count, NEW.mention_count
        FROM messages m
       WHERE m.scope_id = NEW.scope_id AND m.seq > NEW.last_read_seq
         AND m.deleted_at IS NULL AND m.author_id <> NEW.user_id;
    END IF;
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER read_states_monotonic BEFORE UPDATE ON read_states
  FOR EACH ROW EXECUTE FUNCTION read_states_monotonic();
--> statement-breakpoint
CREATE FUNCTION messages_read_state_counters() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  old_live boolean;
  new_live boolean;
  d_unread int;
  d_mention_other int;
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.deleted_at IS NULL THEN
      UPDATE read_states r
         SET unread_count = r.unread_count + 1,
             mention_count = r.mention_count + (CASE WHEN NEW.mention_everyone THEN 1 ELSE 0 END)
       WHERE r.scope_id = NEW.scope_id AND r.user_id <> NEW.author_id AND r.last_read_seq < NEW.seq;
      IF NEW.thread_root_id IS NOT NULL THEN
        UPDATE messages SET thread_reply_count = thread_reply_count + 1 WHERE id = NEW.thread_root_id;
      END IF;
    END IF;
    -- Sending marks the scope read for the author (read_states_monotonic recounts).
    UPDATE read_states SET last_read_seq = NEW.seq
     WHERE scope_id = NEW.scope_id AND user_id = NEW.author_id AND last_read_seq < NEW.seq;
    RETURN NULL;
  END IF;
  old_live := OLD.deleted_at IS NULL;
  new_live := NEW.deleted_at IS NULL;
  d_unread := new_live::int - old_live::int;
  d_mention_other := (new_live AND NEW.mention_everyone)::int - (old_live AND OLD.mention_everyone)::int;
  IF d_unread <> 0 OR d_mention_other <> 0 THEN
    -- A user mentioned directly counts while the message is live; anyone else while it
    -- is live and mentions @everyone.
    UPDATE read_states r
       SET unread_count = r.unread_count + d_unread,
           mention_count = r.mention_count + CASE
             WHEN EXISTS (SELECT 1 FROM message_mentions mm
                           WHERE mm.message_id = NEW.id AND mm.kind = 'user' AND mm.target_id = r.user_id)
             THEN d_unread ELSE d_mention_other END
     WHERE r.scope_id = NEW.scope_id AND r.user_id <> NEW.author_id AND r.last_read_seq < NEW.seq;
  END IF;
  IF d_unread <> 0 AND NEW.thread_root_id IS NOT NULL THEN
    UPDATE messages SET thread_reply_count = thread_reply_count + d_unread WHERE id = NEW.thread_root_id;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER messages_read_state_counters AFTER INSERT OR UPDATE OF deleted_at, mention_everyone ON messages
  FOR EACH ROW EXECUTE FUNCTION messages_read_state_counters();
--> statement-breakpoint
CREATE FUNCTION message_mentions_read_state_counters() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  mr message_mentions%ROWTYPE;
  msg messages%ROWTYPE;
BEGIN
  mr := CASE WHEN TG_OP = 'INSERT' THEN NEW ELSE OLD END;
  IF mr.kind <> 'user' THEN
    RETURN NULL;
  END IF;
  SELECT * INTO msg FROM messages WHERE id = mr.message_id;
  -- Gone (cascade), deleted, or already counted through @everyone: nothing changes.
  IF NOT FOUND OR msg.deleted_at IS NOT NULL OR msg.mention_everyone OR msg.author_id = mr.target_id THEN
    RETURN NULL;
  END IF;
  UPDATE read_states
     SET mention_count = mention_count + CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END
   WHERE scope_id = msg.scope_id AND user_id = mr.target_id AND last_read_seq < msg.seq;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER message_mentions_read_state_counters AFTER INSERT OR DELETE ON message_mentions
  FOR EACH ROW EXECUTE FUNCTION message_mentions_read_state_counters();

-- Read state in O(1) writes per message, whatever the member count (Mattermost's model;
-- docs/architecture.md "Read state and unread counts").
--
-- Counters on the scope (one row, already locked by the seq trigger on a send):
--   message_total     messages ever inserted, live or deleted (never decreases);
--   last_everyone_seq seq of the newest message inserted with @everyone.
-- A read mark (read_marks) keeps, for one member:
--   last_read_seq, and seen_count = message_total at the mark = messages with seq <= mark;
--   mention_count = live messages after the mark mentioning the member directly, not
--                   @everyone and not by the member (written for the mentioned users only).
-- The view read_states derives what clients see, for one row at a time:
--   unread_count  = message_total - seen_count - deleted messages with seq > mark
--                   (a partial index holds the deleted ones);
--   mention_count = mention_count + live @everyone messages with seq > mark (a partial
--                   index; skipped when last_everyone_seq <= mark, the usual case).
-- The member's own messages are never after their mark: a send moves the author's mark to
-- its seq (Slack and Discord do the same), and joining starts at the scope's last seq.
-- Messages are soft-deleted; a hard delete happens only with the scope (cascade).
DROP TRIGGER read_states_on_membership ON memberships;
--> statement-breakpoint
DROP FUNCTION read_states_on_membership();
--> statement-breakpoint
DROP FUNCTION read_states_monotonic();
--> statement-breakpoint
DROP TRIGGER messages_read_state_counters ON messages;
--> statement-breakpoint
DROP FUNCTION messages_read_state_counters();
--> statement-breakpoint
DROP TRIGGER message_mentions_read_state_counters ON message_mentions;
--> statement-breakpoint
DROP FUNCTION message_mentions_read_state_counters();
--> statement-breakpoint
DROP TRIGGER messages_conversation_counters ON messages;
--> statement-breakpoint
DROP FUNCTION messages_conversation_counters();
--> statement-breakpoint
CREATE FUNCTION read_marks_on_membership() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    -- A new member starts with the history read: joining does not make it unread.
    INSERT INTO read_marks (scope_id, user_id, last_read_seq, seen_count)
    SELECT NEW.scope_id, NEW.user_id, s.last_seq, s.message_total FROM scopes s WHERE s.id = NEW.scope_id
    ON CONFLICT (scope_id, user_id) DO NOTHING;
  ELSE
    DELETE FROM read_marks WHERE scope_id = OLD.scope_id AND user_id = OLD.user_id;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER read_marks_on_membership AFTER INSERT OR DELETE ON memberships
  FOR EACH ROW EXECUTE FUNCTION read_marks_on_membership();
--> statement-breakpoint
-- Moving a mark forward sets seen_count and recounts the direct mentions left: nothing to
-- count when it reaches the scope's last seq (the usual case), else the messages after it.
-- A mark never moves back.
CREATE FUNCTION read_marks_advance() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  scope_last bigint;
  total bigint;
BEGIN
  IF NEW.last_read_seq < OLD.last_read_seq THEN
    NEW.last_read_seq := OLD.last_read_seq;
  END IF;
  IF NEW.last_read_seq > OLD.last_read_seq THEN
    NEW.updated_at := now();
    SELECT last_seq, message_total INTO scope_last, total FROM scopes WHERE id = NEW.scope_id;
    IF NEW.last_read_seq >= scope_last THEN
      NEW.seen_count := total;
      NEW.mention_count := 0;
    ELSE
      -- One statement, so the total and the messages after the mark come from one snapshot.
      SELECT s.message_total - (SELECT count(*) FROM messages m WHERE m.scope_id = s.id AND m.seq > NEW.last_read_seq)
        INTO NEW.seen_count FROM scopes s WHERE s.id = NEW.scope_id;
      SELECT count(*) INTO NEW.mention_count
        FROM message_mentions mm JOIN messages m ON m.id = mm.message_id
       WHERE mm.target_id = NEW.user_id AND mm.kind = 'user' AND mm.scope_id = NEW.scope_id
         AND m.seq > NEW.last_read_seq AND m.deleted_at IS NULL AND NOT m.mention_everyone
         AND m.author_id <> NEW.user_id;
    END IF;
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER read_marks_advance BEFORE UPDATE ON read_marks
  FOR EACH ROW EXECUTE FUNCTION read_marks_advance();
--> statement-breakpoint
-- Conversation counters (message_count: live messages; last_message_at), the read-mark
-- scale (message_total, last_everyone_seq), thread reply counts, and the author's mark.
-- Touches the scope row, the author's mark and, on a change of a live message's
-- @everyone or deleted state, the marks of the users it mentions directly: never one row
-- per member.
CREATE FUNCTION messages_counters() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  old_live boolean;
  new_live boolean;
  d_live int;
  d_direct int;
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE scopes
       SET message_count = message_count + (NEW.deleted_at IS NULL)::int,
           message_total = message_total + 1,
           last_message_at = GREATEST(COALESCE(last_message_at, NEW.created_at), NEW.created_at),
           last_everyone_seq = CASE WHEN NEW.mention_everyone AND NEW.deleted_at IS NULL
                                    THEN GREATEST(last_everyone_seq, NEW.seq) ELSE last_everyone_seq END
     WHERE id = NEW.scope_id;
    IF NEW.deleted_at IS NULL AND NEW.thread_root_id IS NOT NULL THEN
      UPDATE messages SET thread_reply_count = thread_reply_count + 1 WHERE id = NEW.thread_root_id;
    END IF;
    -- Sending marks the scope read for the author (read_marks_advance sets seen_count).
    UPDATE read_marks SET last_read_seq = NEW.seq
     WHERE scope_id = NEW.scope_id AND user_id = NEW.author_id AND last_read_seq < NEW.seq;
    RETURN NULL;
  END IF;
  old_live := OLD.deleted_at IS NULL;
  new_live := NEW.deleted_at IS NULL;
  d_live := new_live::int - old_live::int;
  IF d_live <> 0 OR (new_live AND NEW.mention_everyone AND NOT OLD.mention_everyone) THEN
    UPDATE scopes
       SET message_count = message_count + d_live,
           last_everyone_seq = CASE WHEN new_live AND NEW.mention_everyone
                                    THEN GREATEST(last_everyone_seq, NEW.seq) ELSE last_everyone_seq END
     WHERE id = NEW.scope_id;
  END IF;
  IF d_live <> 0 AND NEW.thread_root_id IS NOT NULL THEN
    UPDATE messages SET thread_reply_count = thread_reply_count + d_live WHERE id = NEW.thread_root_id;
  END IF;
  -- A direct mention counts while the message is live and not @everyone (which the view counts).
  d_direct := (new_live AND NOT NEW.mention_everyone)::int - (old_live AND NOT OLD.mention_everyone)::int;
  IF d_direct <> 0 THEN
    UPDATE read_marks r
       SET mention_count = r.mention_count + d_direct
      FROM message_mentions mm
     WHERE mm.message_id = NEW.id AND mm.kind = 'user' AND r.scope_id = NEW.scope_id
       AND r.user_id = mm.target_id AND r.user_id <> NEW.author_id AND r.last_read_seq < NEW.seq;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER messages_counters AFTER INSERT OR UPDATE OF deleted_at, mention_everyone ON messages
  FOR EACH ROW EXECUTE FUNCTION messages_counters();
--> statement-breakpoint
CREATE FUNCTION message_mentions_read_marks() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  mr message_mentions%ROWTYPE;
  msg messages%ROWTYPE;
BEGIN
  mr := CASE WHEN TG_OP = 'INSERT' THEN NEW ELSE OLD END;
  IF mr.kind <> 'user' THEN
    RETURN NULL;
  END IF;
  SELECT * INTO msg FROM messages WHERE id = mr.message_id;
  -- Gone (cascade), deleted, counted through @everyone, or the author's own: nothing changes.
  IF NOT FOUND OR msg.deleted_at IS NOT NULL OR msg.mention_everyone OR msg.author_id = mr.target_id THEN
    RETURN NULL;
  END IF;
  UPDATE read_marks
     SET mention_count = mention_count + CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END
   WHERE scope_id = msg.scope_id AND user_id = mr.target_id AND last_read_seq < msg.seq;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER message_mentions_read_marks AFTER INSERT OR DELETE ON message_mentions
  FOR EACH ROW EXECUTE FUNCTION message_mentions_read_marks();
--> statement-breakpoint
-- Unread messages after a mark: the messages inserted since, less those deleted since.
CREATE FUNCTION read_state_unread(scope uuid, mark bigint, seen bigint) RETURNS integer LANGUAGE sql STABLE AS $$
  SELECT (s.message_total - seen
          - (SELECT count(*) FROM messages m WHERE m.scope_id = scope AND m.seq > mark AND m.deleted_at IS NOT NULL))::int
    FROM scopes s WHERE s.id = scope
$$;
--> statement-breakpoint
-- Live @everyone messages after a mark, not by the reader.
CREATE FUNCTION read_state_everyone(scope uuid, reader uuid, mark bigint) RETURNS integer LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN s.last_everyone_seq <= mark THEN 0 ELSE
           (SELECT count(*) FROM messages m
             WHERE m.scope_id = scope AND m.seq > mark AND m.mention_everyone AND m.deleted_at IS NULL
               AND m.author_id <> reader)::int END
    FROM scopes s WHERE s.id = scope
$$;
--> statement-breakpoint
-- What readers see, with the meaning read_states always had. Updating last_read_seq through
-- it moves the mark (the view is auto-updatable for the plain columns).
CREATE VIEW read_states AS
SELECT r.scope_id,
       r.user_id,
       r.last_read_seq,
       read_state_unread(r.scope_id, r.last_read_seq, r.seen_count) AS unread_count,
       r.mention_count + read_state_everyone(r.scope_id, r.user_id, r.last_read_seq) AS mention_count,
       r.updated_at
  FROM read_marks r;

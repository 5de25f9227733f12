-- A vote, and a live-results event, in one round trip each (src/polls/vote-sql.ts).
-- Before this a vote held the poll's row lock across five round trips (lock, read the
-- voter's rows, delete, insert, commit) and a coalesced event took eight. These functions
-- are clients of the tables like any other: every rule stays in the triggers of
-- drizzle/0035 (single choice, maxChoices, closed, an option of another poll), which run
-- on each of their statements as they do for raw SQL. PL/pgSQL takes a fresh snapshot per
-- statement, so each step sees what the previous one wrote and what committed before it
-- took its lock, as separate statements of a transaction would.

-- A vote (p_options set) or a retraction (p_options null) by `p_voter` (the user id, or
-- the HMAC of an anonymous poll: the user id never reaches the database for those). The
-- caller says which kind of voter value it computed (`p_anonymous`); 'stale' if the poll
-- says otherwise. Returns a status and, unless 'missing' or 'stale', the poll row, its
-- options and the voter's rows as they are now (what polls.vote answers with):
--   missing | stale | count | stranger (detail: the option id) | closed | final (a quiz)
--   | locked (no vote change) | same (nothing to do) | changed
CREATE FUNCTION poll_cast_vote(p_poll uuid, p_voter text, p_anonymous boolean, p_options uuid[])
RETURNS TABLE (status text, detail text, poll json, options json, mine uuid[]) LANGUAGE plpgsql AS $$
DECLARE
  p polls%ROWTYPE;
  held uuid[];
  n integer;
BEGIN
  SELECT * INTO p FROM polls WHERE id = p_poll FOR UPDATE;
  IF NOT FOUND THEN status := 'missing'; RETURN NEXT; RETURN; END IF;
  IF p.anonymous IS DISTINCT FROM p_anonymous THEN status := 'stale'; RETURN NEXT; RETURN; END IF;
  IF p_options IS NOT NULL THEN
    n := cardinality(p_options);
    IF n < p.min_choices OR n > p.max_choices THEN
      status := 'count';
    ELSE
      SELECT x::text INTO detail FROM unnest(p_options) AS x
       WHERE NOT EXISTS (SELECT 1 FROM poll_options o WHERE o.poll_id = p_poll AND o.id = x) LIMIT 1;
      IF detail IS NOT NULL THEN status := 'stranger'; END IF;
    END IF;
  ELSIF p.quiz THEN
    status := 'final';
  ELSIF NOT p.allow_vote_change THEN
    status := 'locked';
  END IF;
  IF status IS NULL AND (p.closed_at IS NOT NULL OR (p.closes_at IS NOT NULL AND p.closes_at <= clock_timestamp())) THEN
    status := 'closed';
  END IF;
  IF status IS NULL THEN
    SELECT coalesce(array_agg(v.option_id), '{}') INTO held FROM poll_votes v WHERE v.poll_id = p_poll AND v.voter = p_voter;
    IF p_options IS NULL THEN
      IF cardinality(held) = 0 THEN
        status := 'same';
      ELSE
        DELETE FROM poll_votes v WHERE v.poll_id = p_poll AND v.voter = p_voter;
        status := 'changed';
      END IF;
    ELSIF cardinality(held) > 0 AND held <@ p_options AND p_options <@ held THEN
      status := 'same';
    ELSIF cardinality(held) > 0 AND p.quiz THEN
      status := 'final';
    ELSIF cardinality(held) > 0 AND NOT p.allow_vote_change THEN
      status := 'locked';
    ELSE
      IF cardinality(held) > 0 THEN
        DELETE FROM poll_votes v WHERE v.poll_id = p_poll AND v.voter = p_voter;
      END IF;
      -- The time in milliseconds, as the voters cursor (service.ts) carries it.
      INSERT INTO poll_votes (poll_id, option_id, voter, voted_at)
        SELECT p_poll, x, p_voter, CASE WHEN p.anonymous THEN NULL ELSE date_trunc('milliseconds', now()) END FROM unnest(p_options) AS x;
      status := 'changed';
    END IF;
  END IF;
  RETURN QUERY SELECT status, detail, row_to_json(q),
    coalesce((SELECT json_agg(row_to_json(o) ORDER BY o.position) FROM poll_options o WHERE o.poll_id = p_poll), '[]'::json),
    coalesce((SELECT array_agg(v.option_id) FROM poll_votes v WHERE v.poll_id = p_poll AND v.voter = p_voter), '{}')
  FROM polls q WHERE q.id = p_poll;
END $$;
--> statement-breakpoint
-- The write of one coalesced live-results event (src/polls/live.ts): locks the scope row
-- (the lock order of drizzle/0035: scope, then the poll or survey, then its mark), then,
-- reading after the lock, gives up if the poll or survey (`p_kind`) is gone or closed
-- ('gone': a close appended poll.closed with the final tally under the same lock), moves
-- its mark to `p_version` only if the mark is behind it and at least `p_interval_ms` old,
-- and appends the event. 'covered': an event with this tally or a later one was sent;
-- 'later': the window is not over (retry_ms: when it is).
CREATE FUNCTION result_event_append(p_kind text, p_target uuid, p_scope uuid, p_version bigint, p_interval_ms integer, p_type text, p_payload jsonb)
RETURNS TABLE (status text, retry_ms integer, seq bigint, created_at timestamptz) LANGUAGE plpgsql AS $$
DECLARE
  m result_event_marks%ROWTYPE;
  e scope_events%ROWTYPE;
BEGIN
  PERFORM 1 FROM scopes WHERE id = p_scope FOR NO KEY UPDATE;
  IF p_kind = 'poll' THEN
    PERFORM 1 FROM polls t WHERE t.id = p_target AND t.scope_id = p_scope AND t.closed_at IS NULL AND (t.closes_at IS NULL OR t.closes_at > clock_timestamp());
  ELSE
    PERFORM 1 FROM surveys t WHERE t.id = p_target AND t.scope_id = p_scope AND t.closed_at IS NULL AND (t.closes_at IS NULL OR t.closes_at > clock_timestamp());
  END IF;
  IF NOT FOUND THEN status := 'gone'; RETURN NEXT; RETURN; END IF;
  INSERT INTO result_event_marks AS r (target_id, event_version, event_at) VALUES (p_target, p_version, clock_timestamp())
  ON CONFLICT (target_id) DO UPDATE SET event_version = excluded.event_version, event_at = excluded.event_at
    WHERE r.event_version < excluded.event_version
      AND r.event_at <= clock_timestamp() - make_interval(secs => p_interval_ms / 1000.0)
  RETURNING * INTO m;
  IF NOT FOUND THEN
    SELECT * INTO m FROM result_event_marks r WHERE r.target_id = p_target;
    IF m.event_version >= p_version THEN
      status := 'covered';
    ELSE
      status := 'later';
      retry_ms := greatest(1, ceil(p_interval_ms - extract(epoch FROM clock_timestamp() - m.event_at) * 1000))::integer;
    END IF;
    RETURN NEXT;
    RETURN;
  END IF;
  INSERT INTO scope_events (scope_id, seq, type, actor_id, payload) VALUES (p_scope, 0, p_type, NULL, p_payload) RETURNING * INTO e;
  status := 'sent';
  seq := e.seq;
  created_at := e.created_at;
  RETURN NEXT;
END $$;
--> statement-breakpoint
-- The carrying message's body is the poll's question (history and search show it): once
-- anyone has voted it cannot be edited either (polls_check_update guards the poll row).
-- Deleting the message (which blanks the body) still goes through.
CREATE FUNCTION messages_carried_settled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM polls WHERE message_id = NEW.id AND voter_count > 0) THEN
    RAISE EXCEPTION 'message % carries a poll with votes: its body cannot change', NEW.id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'messages_carried_settled';
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER messages_carried_settled BEFORE UPDATE OF body ON messages
  FOR EACH ROW WHEN (OLD.body IS DISTINCT FROM NEW.body AND NEW.deleted_at IS NULL)
  EXECUTE FUNCTION messages_carried_settled();

-- Polls and surveys: the tallies and the rules the database itself enforces, whichever
-- code path writes (test/polls/triggers.test.ts writes raw SQL against each of them).
-- Lock order everywhere: scope row (the seq trigger), then the poll or survey row, then
-- result_event_marks, so no two writers can wait on each other in a cycle.

-- ---------------------------------------------------------------- poll votes

-- Every vote row: the poll must be open (closed_at unset and closes_at not passed) and
-- the voter may hold at most max_choices rows (so a second vote on a single-choice poll
-- is refused). The poll row is locked first, so concurrent votes of one voter are
-- serialised and the count is exact. A row-level BEFORE trigger sees the rows earlier in
-- the same statement, so a multi-row insert is counted too. Anonymous polls keep no time.
CREATE FUNCTION poll_votes_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  p polls%ROWTYPE;
  held integer;
BEGIN
  SELECT * INTO p FROM polls WHERE id = NEW.poll_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'poll % does not exist', NEW.poll_id USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'poll_votes_option_fk';
  END IF;
  IF p.closed_at IS NOT NULL OR (p.closes_at IS NOT NULL AND p.closes_at <= clock_timestamp()) THEN
    RAISE EXCEPTION 'poll % is closed', NEW.poll_id USING ERRCODE = 'check_violation', CONSTRAINT = 'poll_votes_poll_open';
  END IF;
  SELECT count(*) INTO held FROM poll_votes WHERE poll_id = NEW.poll_id AND voter = NEW.voter;
  IF held >= p.max_choices THEN
    RAISE EXCEPTION 'a voter may choose at most % option(s) in poll %', p.max_choices, NEW.poll_id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'poll_votes_max_choices';
  END IF;
  IF p.anonymous THEN
    NEW.voted_at := NULL;
  ELSIF NEW.voter !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    RAISE EXCEPTION 'the voter of a non-anonymous poll is a user id' USING ERRCODE = 'check_violation', CONSTRAINT = 'poll_votes_voter';
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER poll_votes_check BEFORE INSERT ON poll_votes FOR EACH ROW EXECUTE FUNCTION poll_votes_check();
--> statement-breakpoint
-- Tallies per statement, from the transition table: the option counts, the voters who
-- hold their first rows now, and the tally version the live-results coalescer follows.
CREATE FUNCTION poll_votes_tally_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE poll_options o SET vote_count = o.vote_count + n.c
    FROM (SELECT option_id, count(*) AS c FROM new_rows GROUP BY option_id) n
    WHERE o.id = n.option_id;
  UPDATE polls p SET voter_count = p.voter_count + d.voters, tally_version = p.tally_version + 1
    FROM (
      SELECT v.poll_id, count(*) FILTER (
        WHERE (SELECT count(*) FROM poll_votes a WHERE a.poll_id = v.poll_id AND a.voter = v.voter) = v.c
      ) AS voters
      FROM (SELECT poll_id, voter, count(*) AS c FROM new_rows GROUP BY poll_id, voter) v
      GROUP BY v.poll_id
    ) d
    WHERE p.id = d.poll_id;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER poll_votes_tally_insert AFTER INSERT ON poll_votes
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION poll_votes_tally_insert();
--> statement-breakpoint
-- A retraction (delete) is refused once the poll is closed; while the poll itself is being
-- deleted (its row is gone) the cascade goes through.
CREATE FUNCTION poll_votes_check_delete() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  p polls%ROWTYPE;
BEGIN
  SELECT * INTO p FROM polls WHERE id = OLD.poll_id FOR UPDATE;
  IF FOUND AND (p.closed_at IS NOT NULL OR (p.closes_at IS NOT NULL AND p.closes_at <= clock_timestamp())) THEN
    RAISE EXCEPTION 'poll % is closed', OLD.poll_id USING ERRCODE = 'check_violation', CONSTRAINT = 'poll_votes_poll_open';
  END IF;
  RETURN OLD;
END $$;
--> statement-breakpoint
CREATE TRIGGER poll_votes_check_delete BEFORE DELETE ON poll_votes FOR EACH ROW EXECUTE FUNCTION poll_votes_check_delete();
--> statement-breakpoint
CREATE FUNCTION poll_votes_tally_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE poll_options o SET vote_count = o.vote_count - n.c
    FROM (SELECT option_id, count(*) AS c FROM old_rows GROUP BY option_id) n
    WHERE o.id = n.option_id;
  UPDATE polls p SET voter_count = p.voter_count - d.voters, tally_version = p.tally_version + 1
    FROM (
      SELECT v.poll_id, count(*) FILTER (
        WHERE NOT EXISTS (SELECT 1 FROM poll_votes a WHERE a.poll_id = v.poll_id AND a.voter = v.voter)
      ) AS voters
      FROM (SELECT DISTINCT poll_id, voter FROM old_rows) v
      GROUP BY v.poll_id
    ) d
    WHERE p.id = d.poll_id;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER poll_votes_tally_delete AFTER DELETE ON poll_votes
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION poll_votes_tally_delete();
--> statement-breakpoint
-- A vote is never edited in place: changing it is a retraction and a new vote.
CREATE FUNCTION poll_votes_no_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'votes cannot be changed in place; delete and insert' USING ERRCODE = 'check_violation', CONSTRAINT = 'poll_votes_immutable';
END $$;
--> statement-breakpoint
CREATE TRIGGER poll_votes_no_update BEFORE UPDATE ON poll_votes FOR EACH ROW EXECUTE FUNCTION poll_votes_no_update();
--> statement-breakpoint

-- ---------------------------------------------------------------- poll options and the poll itself

-- Options are settled once anyone has voted (as Discord and Telegram): no option is
-- added, edited or removed then, none is added to a closed poll, and a poll holds at most 20.
CREATE FUNCTION poll_options_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  p polls%ROWTYPE;
  n integer;
BEGIN
  SELECT * INTO p FROM polls WHERE id = COALESCE(NEW.poll_id, OLD.poll_id) FOR UPDATE;
  IF NOT FOUND THEN
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; -- the poll is being deleted
    RAISE EXCEPTION 'poll % does not exist', NEW.poll_id USING ERRCODE = 'foreign_key_violation';
  END IF;
  IF p.voter_count > 0 THEN
    RAISE EXCEPTION 'the options of poll % cannot change: it has votes', p.id USING ERRCODE = 'check_violation', CONSTRAINT = 'poll_options_settled';
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF p.closed_at IS NOT NULL OR (p.closes_at IS NOT NULL AND p.closes_at <= clock_timestamp()) THEN
      RAISE EXCEPTION 'poll % is closed', p.id USING ERRCODE = 'check_violation', CONSTRAINT = 'poll_votes_poll_open';
    END IF;
    SELECT count(*) INTO n FROM poll_options WHERE poll_id = NEW.poll_id;
    IF n >= 20 THEN
      RAISE EXCEPTION 'poll % already has 20 options', p.id USING ERRCODE = 'check_violation', CONSTRAINT = 'poll_options_max';
    END IF;
    NEW.vote_count := 0;
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER poll_options_check BEFORE INSERT OR DELETE OR UPDATE OF poll_id, position, text, emoji, correct ON poll_options
  FOR EACH ROW EXECUTE FUNCTION poll_options_check();
--> statement-breakpoint
-- The question and the choice rules are settled once anyone has voted; a closed poll stays closed.
CREATE FUNCTION polls_check_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.voter_count > 0 AND (NEW.question, NEW.min_choices, NEW.max_choices, NEW.anonymous, NEW.quiz)
      IS DISTINCT FROM (OLD.question, OLD.min_choices, OLD.max_choices, OLD.anonymous, OLD.quiz) THEN
    RAISE EXCEPTION 'poll % cannot be edited: it has votes', OLD.id USING ERRCODE = 'check_violation', CONSTRAINT = 'polls_settled';
  END IF;
  IF OLD.closed_at IS NOT NULL AND NEW.closed_at IS DISTINCT FROM OLD.closed_at THEN
    RAISE EXCEPTION 'poll % is closed for good', OLD.id USING ERRCODE = 'check_violation', CONSTRAINT = 'poll_votes_poll_open';
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER polls_check_update BEFORE UPDATE ON polls FOR EACH ROW EXECUTE FUNCTION polls_check_update();
--> statement-breakpoint

-- ---------------------------------------------------------------- survey responses

-- One response per member (the primary key); refused once the survey is closed; an
-- existing response changes only when the survey allows edits. Anonymous surveys keep no time.
CREATE FUNCTION survey_responses_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  s surveys%ROWTYPE;
BEGIN
  SELECT * INTO s FROM surveys WHERE id = COALESCE(NEW.survey_id, OLD.survey_id) FOR UPDATE;
  IF NOT FOUND THEN
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RAISE EXCEPTION 'survey % does not exist', NEW.survey_id USING ERRCODE = 'foreign_key_violation';
  END IF;
  IF s.closed_at IS NOT NULL OR (s.closes_at IS NOT NULL AND s.closes_at <= clock_timestamp()) THEN
    RAISE EXCEPTION 'survey % is closed', s.id USING ERRCODE = 'check_violation', CONSTRAINT = 'survey_responses_survey_open';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  IF TG_OP = 'UPDATE' AND NOT s.allow_edit THEN
    RAISE EXCEPTION 'responses to survey % cannot be changed', s.id USING ERRCODE = 'check_violation', CONSTRAINT = 'survey_responses_final';
  END IF;
  IF s.anonymous THEN
    NEW.submitted_at := NULL;
    NEW.updated_at := NULL;
  ELSIF NEW.respondent !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    RAISE EXCEPTION 'the respondent of a non-anonymous survey is a user id' USING ERRCODE = 'check_violation', CONSTRAINT = 'survey_responses_respondent';
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER survey_responses_check BEFORE INSERT OR UPDATE OR DELETE ON survey_responses
  FOR EACH ROW EXECUTE FUNCTION survey_responses_check();
--> statement-breakpoint
CREATE FUNCTION survey_responses_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE surveys SET
    response_count = response_count + CASE TG_OP WHEN 'INSERT' THEN 1 WHEN 'DELETE' THEN -1 ELSE 0 END,
    tally_version = tally_version + 1
  WHERE id = COALESCE(NEW.survey_id, OLD.survey_id);
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER survey_responses_tally AFTER INSERT OR UPDATE OR DELETE ON survey_responses
  FOR EACH ROW EXECUTE FUNCTION survey_responses_tally();
--> statement-breakpoint
CREATE FUNCTION surveys_check_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.closed_at IS NOT NULL AND NEW.closed_at IS DISTINCT FROM OLD.closed_at THEN
    RAISE EXCEPTION 'survey % is closed for good', OLD.id USING ERRCODE = 'check_violation', CONSTRAINT = 'survey_responses_survey_open';
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER surveys_check_update BEFORE UPDATE ON surveys FOR EACH ROW EXECUTE FUNCTION surveys_check_update();
--> statement-breakpoint

-- ---------------------------------------------------------------- the carrying message

-- Deleting the message (a soft delete sets deleted_at) deletes the poll or survey it
-- carries, with every vote and response.
CREATE FUNCTION messages_delete_carried() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM polls WHERE message_id = NEW.id;
  DELETE FROM surveys WHERE message_id = NEW.id;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER messages_delete_carried AFTER UPDATE OF deleted_at ON messages
  FOR EACH ROW WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL) EXECUTE FUNCTION messages_delete_carried();
--> statement-breakpoint
CREATE FUNCTION result_event_marks_cleanup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM result_event_marks WHERE target_id = OLD.id;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER polls_marks_cleanup AFTER DELETE ON polls FOR EACH ROW EXECUTE FUNCTION result_event_marks_cleanup();
--> statement-breakpoint
CREATE TRIGGER surveys_marks_cleanup AFTER DELETE ON surveys FOR EACH ROW EXECUTE FUNCTION result_event_marks_cleanup();
--> statement-breakpoint

-- ---------------------------------------------------------------- VoteInPolls (bit 21)

-- The new flag is granted to @everyone by default (src/permissions/flags.ts); existing
-- communities get it too, and so do their built-in admin roles (which carry every flag but
-- Administrator).
UPDATE roles SET permissions = permissions | 2097152 WHERE kind IN ('everyone', 'admin');

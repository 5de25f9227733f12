-- Hint columns for the history page (src/messages/list-sql.ts): whether a message may
-- have mentions, reactions or attachments. The page statement looks each of them up only
-- where its hint is true; most messages have none, so most of the 150 index probes a page
-- of 50 made are gone.
--
-- The hints only ever go from false to true, here, in the same transaction as the child
-- row that makes them true (an AFTER trigger on each child table, whatever code path
-- writes the row). Nothing sets them back to false: a hint left true after the last
-- reaction is removed costs one probe that finds nothing; a false hint over existing rows
-- would hide them, and cannot happen (docs/architecture.md "History page path").
--
-- The triggers update only the hint column of `messages`: no trigger of `messages` lists
-- it (their column lists are deleted_at, mention_everyone and body), so the update fires
-- none of them and appends no event. `NOT has_…` in the WHERE makes every row after the
-- first of a message an index lookup that writes nothing.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS has_mentions boolean DEFAULT false NOT NULL;
--> statement-breakpoint
ALTER TABLE messages ADD COLUMN IF NOT EXISTS has_reactions boolean DEFAULT false NOT NULL;
--> statement-breakpoint
ALTER TABLE messages ADD COLUMN IF NOT EXISTS has_attachments boolean DEFAULT false NOT NULL;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION messages_hint_mentions() RETURNS trigger AS $$
BEGIN
  UPDATE messages SET has_mentions = true WHERE id = NEW.message_id AND NOT has_mentions;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION messages_hint_reactions() RETURNS trigger AS $$
BEGIN
  UPDATE messages SET has_reactions = true WHERE id = NEW.message_id AND NOT has_reactions;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION messages_hint_attachments() RETURNS trigger AS $$
BEGIN
  UPDATE messages SET has_attachments = true WHERE id = NEW.message_id AND NOT has_attachments;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
-- Row triggers, not statement triggers with a transition table: a statement trigger fires
-- for an insert of no rows too, and the plain send inserts its (usually zero) mentions in
-- every send. An update that moves a child row to another message (nothing does it today)
-- sets that message's hint too.
DROP TRIGGER IF EXISTS message_mentions_hint ON message_mentions;
--> statement-breakpoint
CREATE TRIGGER message_mentions_hint
  AFTER INSERT OR UPDATE OF message_id ON message_mentions
  FOR EACH ROW
  EXECUTE FUNCTION messages_hint_mentions();
--> statement-breakpoint
DROP TRIGGER IF EXISTS reactions_hint ON reactions;
--> statement-breakpoint
CREATE TRIGGER reactions_hint
  AFTER INSERT OR UPDATE OF message_id ON reactions
  FOR EACH ROW
  EXECUTE FUNCTION messages_hint_reactions();
--> statement-breakpoint
-- An attachment is mostly uploaded first (message_id null) and attached by an update.
DROP TRIGGER IF EXISTS attachments_hint ON attachments;
--> statement-breakpoint
CREATE TRIGGER attachments_hint
  AFTER INSERT OR UPDATE OF message_id ON attachments
  FOR EACH ROW
  WHEN (NEW.message_id IS NOT NULL)
  EXECUTE FUNCTION messages_hint_attachments();
--> statement-breakpoint
-- Backfill: only the messages that have child rows are written (each child table is read
-- once, by its message_id index); the rest keep the default without a rewrite.
UPDATE messages m SET has_mentions = true
  FROM (SELECT DISTINCT message_id FROM message_mentions) c
 WHERE m.id = c.message_id AND NOT m.has_mentions;
--> statement-breakpoint
UPDATE messages m SET has_reactions = true
  FROM (SELECT DISTINCT message_id FROM reactions) c
 WHERE m.id = c.message_id AND NOT m.has_reactions;
--> statement-breakpoint
UPDATE messages m SET has_attachments = true
  FROM (SELECT DISTINCT message_id FROM attachments WHERE message_id IS NOT NULL) c
 WHERE m.id = c.message_id AND NOT m.has_attachments;

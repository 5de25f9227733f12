CREATE TABLE "reaction_counts" (
	"message_id" uuid NOT NULL,
	"emoji" text NOT NULL,
	"count" integer NOT NULL,
	"first_at" timestamp with time zone NOT NULL,
	"user_ids" uuid[] NOT NULL,
	CONSTRAINT "reaction_counts_message_id_emoji_pk" PRIMARY KEY("message_id","emoji"),
	CONSTRAINT "reaction_counts_count_check" CHECK ("reaction_counts"."count" > 0)
);
--> statement-breakpoint
ALTER TABLE "reaction_counts" ADD CONSTRAINT "reaction_counts_message_id_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "reactions_order_idx" ON "reactions" USING btree ("message_id","emoji","created_at","user_id");--> statement-breakpoint
-- Bounded reaction summaries (src/messages/rows.ts, list-sql.ts): one row per message and
-- emoji with its count, its first reaction time and its first 3 users (the
-- `limits.reactionUsersShown` of src/config.ts), kept here for every writer of
-- `reactions`, so a read of a message costs one row per emoji, not one per reaction.
--
-- The first users are those with the smallest (created_at, user_id). They are read again
-- from `reactions` (by reactions_order_idx, at most 3 rows) only when they may change:
-- an insert while fewer than 3 are shown or at or before the last one shown, and a delete
-- of one shown. `first_at` is read again only on a delete of the earliest. A delete of
-- the last reaction of an emoji deletes its row (count > 0 holds). In a statement that
-- deletes many reactions (a message's, a user's) every row's trigger runs after all the
-- rows are gone and reads the final state, so the end result is the same.
CREATE OR REPLACE FUNCTION reaction_preview(mid uuid, e text) RETURNS uuid[] AS $$
  SELECT coalesce(array(SELECT r.user_id FROM reactions r WHERE r.message_id = mid AND r.emoji = e
                         ORDER BY r.created_at, r.user_id LIMIT 3), '{}'::uuid[]);
$$ LANGUAGE sql STABLE;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION reaction_counts_apply() RETURNS trigger AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    DELETE FROM reaction_counts WHERE message_id = OLD.message_id AND emoji = OLD.emoji AND count <= 1;
    IF NOT FOUND THEN
      UPDATE reaction_counts c
         SET count = c.count - 1,
             first_at = CASE WHEN OLD.created_at <= c.first_at
                             THEN coalesce((SELECT min(r.created_at) FROM reactions r WHERE r.message_id = OLD.message_id AND r.emoji = OLD.emoji), c.first_at)
                             ELSE c.first_at END,
             user_ids = CASE WHEN OLD.user_id = ANY (c.user_ids) THEN reaction_preview(OLD.message_id, OLD.emoji) ELSE c.user_ids END
       WHERE c.message_id = OLD.message_id AND c.emoji = OLD.emoji;
    END IF;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO reaction_counts AS c (message_id, emoji, count, first_at, user_ids)
    VALUES (NEW.message_id, NEW.emoji, 1, NEW.created_at, ARRAY[NEW.user_id])
    ON CONFLICT (message_id, emoji) DO UPDATE
      SET count = c.count + 1,
          first_at = least(c.first_at, NEW.created_at),
          user_ids = CASE WHEN cardinality(c.user_ids) < 3
                            OR NEW.created_at <= (SELECT r.created_at FROM reactions r
                                                   WHERE r.message_id = NEW.message_id AND r.emoji = NEW.emoji
                                                     AND r.user_id = c.user_ids[cardinality(c.user_ids)])
                          THEN reaction_preview(NEW.message_id, NEW.emoji) ELSE c.user_ids END;
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
DROP TRIGGER IF EXISTS reactions_counts ON reactions;
--> statement-breakpoint
CREATE TRIGGER reactions_counts
  AFTER INSERT OR DELETE OR UPDATE ON reactions
  FOR EACH ROW
  EXECUTE FUNCTION reaction_counts_apply();
--> statement-breakpoint
-- Backfill from the reactions already there (read once, grouped).
INSERT INTO reaction_counts (message_id, emoji, count, first_at, user_ids)
SELECT message_id, emoji, count(*)::int, min(created_at), (array_agg(user_id ORDER BY created_at, user_id))[1:3]
  FROM reactions GROUP BY message_id, emoji
    ON CONFLICT (message_id, emoji) DO NOTHING;
--> statement-breakpoint
-- Statistics for the planner now: without them it guesses thousands of rows per message,
-- which prices the history page statement past jit_above_cost (a JIT compile per call).
ANALYZE reaction_counts;

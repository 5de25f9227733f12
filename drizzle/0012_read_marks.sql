CREATE TABLE "read_marks" (
	"scope_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"last_read_seq" bigint DEFAULT 0 NOT NULL,
	"seen_count" bigint DEFAULT 0 NOT NULL,
	"mention_count" integer DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "read_marks_scope_id_user_id_pk" PRIMARY KEY("scope_id","user_id")
);
--> statement-breakpoint
ALTER TABLE "scopes" ADD COLUMN "message_total" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "scopes" ADD COLUMN "last_everyone_seq" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "read_marks" ADD CONSTRAINT "read_marks_scope_id_scopes_id_fk" FOREIGN KEY ("scope_id") REFERENCES "public"."scopes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "read_marks" ADD CONSTRAINT "read_marks_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "read_marks_user_idx" ON "read_marks" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "messages_deleted_seq_idx" ON "messages" USING btree ("scope_id","seq") WHERE "messages"."deleted_at" is not null;--> statement-breakpoint
CREATE INDEX "messages_everyone_seq_idx" ON "messages" USING btree ("scope_id","seq") WHERE "messages"."mention_everyone" and "messages"."deleted_at" is null;--> statement-breakpoint
-- From per-member counters (read_states, one row write per member and message) to read
-- marks (O(1) writes per message); drizzle/0032_read_state_counters.sql holds the triggers
-- and the read_states view that derives the counts.
UPDATE "scopes" s SET
  "message_total" = (SELECT count(*) FROM "messages" m WHERE m."scope_id" = s."id"),
  "last_everyone_seq" = COALESCE((SELECT max(m."seq") FROM "messages" m WHERE m."scope_id" = s."id" AND m."mention_everyone" AND m."deleted_at" IS NULL), 0);
--> statement-breakpoint
INSERT INTO "read_marks" ("scope_id", "user_id", "last_read_seq", "seen_count", "mention_count", "updated_at")
SELECT r."scope_id", r."user_id", r."last_read_seq",
       (SELECT count(*) FROM "messages" m WHERE m."scope_id" = r."scope_id" AND m."seq" <= r."last_read_seq"),
       (SELECT count(*) FROM "message_mentions" mm JOIN "messages" m ON m."id" = mm."message_id"
         WHERE mm."scope_id" = r."scope_id" AND mm."kind" = 'user' AND mm."target_id" = r."user_id"
           AND m."seq" > r."last_read_seq" AND m."deleted_at" IS NULL AND NOT m."mention_everyone" AND m."author_id" <> r."user_id"),
       r."updated_at"
  FROM "read_states" r;
--> statement-breakpoint
DROP TABLE "read_states" CASCADE;

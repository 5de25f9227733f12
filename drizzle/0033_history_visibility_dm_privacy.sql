ALTER TABLE "users" ADD COLUMN "allow_dms_from" text DEFAULT 'communities' NOT NULL;--> statement-breakpoint
ALTER TABLE "memberships" ADD COLUMN "joined_seq" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "scopes" ADD COLUMN "history_visibility" text DEFAULT 'shared' NOT NULL;
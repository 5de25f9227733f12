CREATE TABLE "media_object_deletions" (
	"key" text PRIMARY KEY NOT NULL,
	"queued_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "attachments_scope_idx" ON "attachments" USING btree ("scope_id");--> statement-breakpoint
-- A scope's files go with it: when a scope is deleted (scopes.delete soft-deletes it and
-- its subtree, one row each), its attachments (messages' files, pending uploads, its icon)
-- are marked for the cleanup job, as a message's are (drizzle/0036). Its messages stay
-- (they read as NOT_FOUND with their scope), so the message trigger never sees them.
CREATE FUNCTION attachments_follow_scope_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE attachments SET delete_requested_at = now()
   WHERE scope_id = NEW.id AND delete_requested_at IS NULL;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER attachments_follow_scope_delete
  AFTER UPDATE OF deleted_at ON scopes
  FOR EACH ROW
  WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)
  EXECUTE FUNCTION attachments_follow_scope_delete();
--> statement-breakpoint
-- An attachment row removed by anything but the cleanup job (a cascade from its scope or
-- owner row, raw SQL) leaves its object keys (upload, full image, variants) here, where
-- the same job finds them. The job deletes the rows whose objects it has deleted with
-- guildhall.media_objects_deleted set for that statement, so those are not queued again.
CREATE FUNCTION attachments_queue_objects() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(current_setting('guildhall.media_objects_deleted', true), '') = 'on' THEN
    RETURN NULL;
  END IF;
  INSERT INTO media_object_deletions (key)
    SELECT k.key FROM old_rows o
     CROSS JOIN LATERAL (
       SELECT o.key
       UNION ALL SELECT o.display_key WHERE o.display_key IS NOT NULL
       UNION ALL SELECT v->>'key' FROM jsonb_array_elements(o.variants) v WHERE v ? 'key'
     ) AS k(key)
  ON CONFLICT (key) DO NOTHING;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER attachments_queue_objects
  AFTER DELETE ON attachments
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT
  EXECUTE FUNCTION attachments_queue_objects();

-- A message's files go with it: when a message is deleted (soft, by its author, a
-- moderator or a ban's purge, whichever code path wrote it), its attachments are marked
-- for the cleanup job (src/media/cleanup.ts), which deletes their objects and then the rows.
CREATE OR REPLACE FUNCTION attachments_follow_message_delete() RETURNS trigger AS $$
BEGIN
  UPDATE attachments SET delete_requested_at = now()
   WHERE message_id = NEW.id AND delete_requested_at IS NULL;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER attachments_follow_message_delete
  AFTER UPDATE OF deleted_at ON messages
  FOR EACH ROW
  WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)
  EXECUTE FUNCTION attachments_follow_message_delete();

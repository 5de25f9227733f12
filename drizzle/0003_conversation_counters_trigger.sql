-- Conversation counters on scopes: message_count counts messages not deleted, and
-- last_message_at is the newest message's time, whichever code path wrote the row.
CREATE FUNCTION messages_conversation_counters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE scopes
       SET message_count = message_count + 1,
           last_message_at = GREATEST(COALESCE(last_message_at, NEW.created_at), NEW.created_at)
     WHERE id = NEW.scope_id;
  ELSIF OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL THEN
    UPDATE scopes SET message_count = message_count - 1 WHERE id = NEW.scope_id;
  ELSIF OLD.deleted_at IS NOT NULL AND NEW.deleted_at IS NULL THEN
    UPDATE scopes SET message_count = message_count + 1 WHERE id = NEW.scope_id;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER messages_conversation_counters AFTER INSERT OR UPDATE OF deleted_at ON messages
  FOR EACH ROW EXECUTE FUNCTION messages_conversation_counters();

-- Governance triggers: the children-count limit, the ban rule on memberships, the
-- permission version bump, and the audit log. Limits mirror `limits` in src/config.ts.
--
-- The children-count limit: a scope holds at most 500 live (not deleted) children
-- (limits.scopeMaxChildren). The parent row is locked first, so two concurrent inserts
-- cannot both take the last place.
CREATE FUNCTION scopes_limit_children() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  max_children CONSTANT int := 500;
  n int;
BEGIN
  IF NEW.parent_id IS NULL OR (TG_OP = 'UPDATE' AND NEW.parent_id IS NOT DISTINCT FROM OLD.parent_id) THEN
    RETURN NEW;
  END IF;
  PERFORM 1 FROM scopes WHERE id = NEW.parent_id FOR UPDATE;
  SELECT count(*) INTO n FROM scopes WHERE parent_id = NEW.parent_id AND deleted_at IS NULL AND id <> NEW.id;
  IF n >= max_children THEN
    RAISE EXCEPTION 'a scope holds at most % children; archive or delete some first', max_children
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER scopes_limit_children BEFORE INSERT OR UPDATE OF parent_id ON scopes
  FOR EACH ROW EXECUTE FUNCTION scopes_limit_children();
--> statement-breakpoint
-- A user banned from a scope or any of its ancestors cannot become a member there.
CREATE FUNCTION memberships_refuse_banned() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (
    SELECT 1 FROM scopes s JOIN bans b ON b.user_id = NEW.user_id AND (b.scope_id = s.id OR b.scope_id = ANY (s.path))
     WHERE s.id = NEW.scope_id
  ) THEN
    RAISE EXCEPTION 'this user is banned from this scope' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER memberships_refuse_banned BEFORE INSERT ON memberships
  FOR EACH ROW EXECUTE FUNCTION memberships_refuse_banned();
--> statement-breakpoint
-- The permission version: every change that can alter someone's effective permissions
-- bumps `perm_version` on the community (root) of the scope it touched. Cached
-- permissions are keyed by it, so a cached answer can never be stale.
CREATE FUNCTION bump_perm_version(target uuid) RETURNS void LANGUAGE sql AS $$
  UPDATE scopes SET perm_version = perm_version + 1
   WHERE id = (SELECT COALESCE(path[1], id) FROM scopes WHERE id = target);
$$;
--> statement-breakpoint
CREATE FUNCTION perm_version_on_scope_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Works for roles, permission_overwrites, memberships and bans: all carry scope_id.
  IF TG_OP = 'DELETE' THEN
    PERFORM bump_perm_version(OLD.scope_id);
  ELSE
    PERFORM bump_perm_version(NEW.scope_id);
    IF TG_OP = 'UPDATE' AND NEW.scope_id <> OLD.scope_id THEN
      PERFORM bump_perm_version(OLD.scope_id);
    END IF;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER roles_perm_version AFTER INSERT OR DELETE OR UPDATE OF permissions, position, scope_id ON roles
  FOR EACH ROW EXECUTE FUNCTION perm_version_on_scope_row();
--> statement-breakpoint
CREATE TRIGGER permission_overwrites_perm_version AFTER INSERT OR UPDATE OR DELETE ON permission_overwrites
  FOR EACH ROW EXECUTE FUNCTION perm_version_on_scope_row();
--> statement-breakpoint
CREATE TRIGGER memberships_perm_version AFTER INSERT OR DELETE OR UPDATE OF is_owner, granted_permissions, timed_out_until ON memberships
  FOR EACH ROW EXECUTE FUNCTION perm_version_on_scope_row();
--> statement-breakpoint
CREATE TRIGGER bans_perm_version AFTER INSERT OR DELETE ON bans
  FOR EACH ROW EXECUTE FUNCTION perm_version_on_scope_row();
--> statement-breakpoint
CREATE FUNCTION role_assignments_perm_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  rid uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.role_id ELSE NEW.role_id END;
  sid uuid;
BEGIN
  SELECT scope_id INTO sid FROM roles WHERE id = rid;
  IF FOUND THEN -- a cascade from a deleted role: the role's own trigger bumped already
    PERFORM bump_perm_version(sid);
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER role_assignments_perm_version AFTER INSERT OR DELETE ON role_assignments
  FOR EACH ROW EXECUTE FUNCTION role_assignments_perm_version();
--> statement-breakpoint
CREATE FUNCTION scopes_perm_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.parent_id IS DISTINCT FROM OLD.parent_id OR NEW.visibility IS DISTINCT FROM OLD.visibility
     OR NEW.archived_at IS DISTINCT FROM OLD.archived_at OR NEW.deleted_at IS DISTINCT FROM OLD.deleted_at THEN
    PERFORM bump_perm_version(NEW.id);
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER scopes_perm_version AFTER UPDATE OF parent_id, visibility, archived_at, deleted_at ON scopes
  FOR EACH ROW EXECUTE FUNCTION scopes_perm_version();
--> statement-breakpoint
-- The audit log. Application code sets, per transaction,
--   set_config('guildhall.actor_id', <user id>, true) and set_config('guildhall.action', <procedure>, true);
-- the triggers read them. The log is append-only.
CREATE FUNCTION audit_write(scope uuid, action text, target_type text, target_id text, before jsonb, after jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  community uuid;
BEGIN
  SELECT COALESCE(path[1], id) INTO community FROM scopes WHERE id = scope;
  IF community IS NULL THEN
    RETURN; -- the scope itself is being removed for good (cascade); nothing to attach to
  END IF;
  INSERT INTO audit_log (community_id, scope_id, actor_id, action, context, target_type, target_id, before, after)
  VALUES (community, scope, NULLIF(current_setting('guildhall.actor_id', true), '')::uuid, action,
          NULLIF(current_setting('guildhall.action', true), ''), target_type, target_id, before, after);
END $$;
--> statement-breakpoint
CREATE FUNCTION audit_memberships() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  act text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM audit_write(NEW.scope_id, 'member.add', 'user', NEW.user_id::text, NULL, to_jsonb(NEW));
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM audit_write(OLD.scope_id, 'member.remove', 'user', OLD.user_id::text, to_jsonb(OLD), NULL);
  ELSE
    act := CASE
      WHEN NEW.is_owner AND NOT OLD.is_owner THEN 'owner.add'
      WHEN OLD.is_owner AND NOT NEW.is_owner THEN 'owner.remove'
      WHEN NEW.timed_out_until IS DISTINCT FROM OLD.timed_out_until THEN 'member.timeout'
      WHEN NEW.granted_permissions <> OLD.granted_permissions THEN 'member.grant'
      ELSE NULL END;
    IF act IS NOT NULL THEN
      PERFORM audit_write(NEW.scope_id, act, 'user', NEW.user_id::text, to_jsonb(OLD), to_jsonb(NEW));
    END IF;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER audit_memberships AFTER INSERT OR DELETE OR UPDATE ON memberships
  FOR EACH ROW EXECUTE FUNCTION audit_memberships();
--> statement-breakpoint
CREATE FUNCTION audit_roles() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM audit_write(NEW.scope_id, 'role.create', 'role', NEW.id::text, NULL, to_jsonb(NEW));
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM audit_write(OLD.scope_id, 'role.delete', 'role', OLD.id::text, to_jsonb(OLD), NULL);
  ELSIF to_jsonb(NEW) IS DISTINCT FROM to_jsonb(OLD) THEN
    PERFORM audit_write(NEW.scope_id, 'role.update', 'role', NEW.id::text, to_jsonb(OLD), to_jsonb(NEW));
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER audit_roles AFTER INSERT OR DELETE OR UPDATE ON roles
  FOR EACH ROW EXECUTE FUNCTION audit_roles();
--> statement-breakpoint
CREATE FUNCTION audit_role_assignments() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  r roles%ROWTYPE;
  row_ record;
BEGIN
  row_ := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
  SELECT * INTO r FROM roles WHERE id = row_.role_id;
  IF NOT FOUND THEN
    RETURN NULL; -- cascade from a deleted role: 'role.delete' says it
  END IF;
  PERFORM audit_write(r.scope_id, CASE WHEN TG_OP = 'DELETE' THEN 'role.unassign' ELSE 'role.assign' END,
    'user', row_.user_id::text,
    CASE WHEN TG_OP = 'DELETE' THEN jsonb_build_object('role_id', r.id, 'role_name', r.name) END,
    CASE WHEN TG_OP = 'INSERT' THEN jsonb_build_object('role_id', r.id, 'role_name', r.name) END);
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER audit_role_assignments AFTER INSERT OR DELETE ON role_assignments
  FOR EACH ROW EXECUTE FUNCTION audit_role_assignments();
--> statement-breakpoint
CREATE FUNCTION audit_permission_overwrites() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM audit_write(OLD.scope_id, 'overwrite.clear', OLD.target_type, OLD.target_id::text, to_jsonb(OLD), NULL);
  ELSE
    PERFORM audit_write(NEW.scope_id, 'overwrite.set', NEW.target_type, NEW.target_id::text,
      CASE WHEN TG_OP = 'UPDATE' THEN to_jsonb(OLD) END, to_jsonb(NEW));
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER audit_permission_overwrites AFTER INSERT OR UPDATE OR DELETE ON permission_overwrites
  FOR EACH ROW EXECUTE FUNCTION audit_permission_overwrites();
--> statement-breakpoint
CREATE FUNCTION audit_bans() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM audit_write(NEW.scope_id, 'ban.add', 'user', NEW.user_id::text, NULL, to_jsonb(NEW));
  ELSE
    PERFORM audit_write(OLD.scope_id, 'ban.remove', 'user', OLD.user_id::text, to_jsonb(OLD), NULL);
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER audit_bans AFTER INSERT OR DELETE ON bans
  FOR EACH ROW EXECUTE FUNCTION audit_bans();
--> statement-breakpoint
CREATE FUNCTION audit_invites() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  act text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM audit_write(NEW.scope_id, 'invite.create', 'invite', NEW.id::text, NULL, to_jsonb(NEW) - 'code');
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM audit_write(OLD.scope_id, 'invite.delete', 'invite', OLD.id::text, to_jsonb(OLD) - 'code', NULL);
  ELSE
    act := CASE
      WHEN NEW.revoked_at IS NOT NULL AND OLD.revoked_at IS NULL THEN 'invite.revoke'
      WHEN NEW.uses <> OLD.uses THEN 'invite.redeem'
      ELSE 'invite.update' END;
    PERFORM audit_write(NEW.scope_id, act, 'invite', NEW.id::text, to_jsonb(OLD) - 'code', to_jsonb(NEW) - 'code');
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER audit_invites AFTER INSERT OR DELETE OR UPDATE ON invites
  FOR EACH ROW EXECUTE FUNCTION audit_invites();
--> statement-breakpoint
CREATE FUNCTION audit_scope_fields(s scopes) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('kind', s.kind, 'parent_id', s.parent_id, 'name', s.name, 'description', s.description,
    'visibility', s.visibility, 'settings', s.settings, 'archived_at', s.archived_at, 'deleted_at', s.deleted_at);
$$;
--> statement-breakpoint
CREATE FUNCTION audit_scopes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  act text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM audit_write(NEW.id, 'scope.create', 'scope', NEW.id::text, NULL, audit_scope_fields(NEW));
    RETURN NULL;
  END IF;
  IF audit_scope_fields(NEW) = audit_scope_fields(OLD) THEN
    RETURN NULL;
  END IF;
  act := CASE
    WHEN NEW.deleted_at IS DISTINCT FROM OLD.deleted_at THEN 'scope.delete'
    WHEN NEW.parent_id IS DISTINCT FROM OLD.parent_id THEN 'scope.move'
    WHEN NEW.archived_at IS DISTINCT FROM OLD.archived_at THEN
      CASE WHEN NEW.archived_at IS NULL THEN 'scope.unarchive' ELSE 'scope.archive' END
    ELSE 'scope.update' END;
  PERFORM audit_write(NEW.id, act, 'scope', NEW.id::text, audit_scope_fields(OLD), audit_scope_fields(NEW));
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER audit_scopes AFTER INSERT OR UPDATE OF parent_id, name, description, visibility, settings, archived_at, deleted_at ON scopes
  FOR EACH ROW EXECUTE FUNCTION audit_scopes();
--> statement-breakpoint
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
--> statement-breakpoint
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

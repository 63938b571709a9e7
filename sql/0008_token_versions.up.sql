-- A token names the user's token_version; any change to who a user is (team, role, password,
-- name) bumps it, so older tokens stop working. Every change and deletion is announced on
-- luna_user_changes, so each replica drops its cached copy of the user at once.
ALTER TABLE users ADD COLUMN token_version integer NOT NULL DEFAULT 0;

CREATE FUNCTION luna_user_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF (NEW.team_id, NEW.is_admin, NEW.password_hash, NEW.username)
           IS DISTINCT FROM (OLD.team_id, OLD.is_admin, OLD.password_hash, OLD.username) THEN
            NEW.token_version := OLD.token_version + 1;
        END IF;
        PERFORM pg_notify('luna_user_changes', OLD.id::text);
        RETURN NEW;
    END IF;
    PERFORM pg_notify('luna_user_changes', OLD.id::text);
    RETURN OLD;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER users_changed BEFORE UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION luna_user_changed();

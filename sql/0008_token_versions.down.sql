DROP TRIGGER users_changed ON users;
DROP FUNCTION luna_user_changed();
ALTER TABLE users DROP COLUMN token_version;

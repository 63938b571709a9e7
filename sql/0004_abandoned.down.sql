DROP INDEX datasets_uploading_since;
UPDATE datasets SET status = 'failed' WHERE status = 'abandoned';
ALTER TABLE datasets DROP CONSTRAINT datasets_status_check;
ALTER TABLE datasets ADD CONSTRAINT datasets_status_check CHECK (
    status IN ('uploading', 'queued', 'validating', 'validated', 'failed')
);

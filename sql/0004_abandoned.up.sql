-- A dataset never completed is swept after LUNA_ABANDON_AFTER_S: its stored objects and open
-- multipart uploads are removed and it is marked `abandoned`, so nothing lingers in storage.
ALTER TABLE datasets DROP CONSTRAINT datasets_status_check;
ALTER TABLE datasets ADD CONSTRAINT datasets_status_check CHECK (
    status IN ('uploading', 'queued', 'validating', 'validated', 'failed', 'abandoned')
);
CREATE INDEX datasets_uploading_since ON datasets (created_at) WHERE status = 'uploading';

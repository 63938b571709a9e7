-- Large declarations stay fast: a file over the multipart threshold is `planned` at
-- `upload/start` (its part size recorded, no upload opened in the store yet); its multipart
-- upload opens when its first part URLs are asked for. And what is validated is what is kept:
-- on a store with ETags, `upload/complete` records each object's ETag (NULL: absent then) and
-- the time it did so in `objects_recorded_at`; validation reads exactly that version, and a
-- later change shows in `GET /api/v1/datasets/{id}`.

ALTER TABLE dataset_files DROP CONSTRAINT dataset_files_multipart_whole;
ALTER TABLE dataset_files DROP CONSTRAINT dataset_files_multipart_state_check;
ALTER TABLE dataset_files
    ADD CONSTRAINT dataset_files_multipart_state_check
        CHECK (multipart_state IN ('planned', 'uploading', 'completed', 'aborted')),
    ADD CONSTRAINT dataset_files_multipart_whole CHECK (
        (part_size_bytes IS NULL) = (multipart_state IS NULL)
        AND (multipart_upload_id IS NULL) = (multipart_state IS NULL OR multipart_state = 'planned')
    ),
    ADD COLUMN etag text;

ALTER TABLE datasets ADD COLUMN objects_recorded_at timestamptz;

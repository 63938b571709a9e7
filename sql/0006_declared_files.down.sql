ALTER TABLE datasets DROP COLUMN objects_recorded_at;
ALTER TABLE dataset_files DROP COLUMN etag;
ALTER TABLE dataset_files DROP CONSTRAINT dataset_files_multipart_whole;
ALTER TABLE dataset_files DROP CONSTRAINT dataset_files_multipart_state_check;
-- A file planned for parts but never opened was, before, a file without parts.
UPDATE dataset_files SET part_size_bytes = NULL, multipart_state = NULL
WHERE multipart_state = 'planned';
ALTER TABLE dataset_files
    ADD CONSTRAINT dataset_files_multipart_state_check
        CHECK (multipart_state IN ('uploading', 'completed', 'aborted')),
    ADD CONSTRAINT dataset_files_multipart_whole CHECK (
        (multipart_upload_id IS NULL) = (part_size_bytes IS NULL)
        AND (multipart_upload_id IS NULL) = (multipart_state IS NULL)
    );

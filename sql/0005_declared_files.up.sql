-- Large declarations stay fast: a file over the multipart threshold is `planned` at
-- `upload/start` (its part size recorded, no upload opened in the store yet); its multipart
-- upload opens when its first part URLs are asked for. And what is validated is what is kept:
-- `etag` is the stored object's ETag when the dataset was completed (NULL: absent then, or a
-- store without ETags); validation reads exactly that version.

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

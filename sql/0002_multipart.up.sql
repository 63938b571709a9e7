-- Large files upload in parts (S3 multipart): a file above the threshold gets an upload id when
-- its dataset starts, and the part size its parts were planned with (the plan is a pure
-- function of size_bytes and part_size_bytes). `multipart_state` says whether the parts were
-- joined into the object (`completed`) or dropped (`aborted`) when the dataset was completed.

ALTER TABLE dataset_files
    ADD COLUMN multipart_upload_id text,
    ADD COLUMN part_size_bytes bigint CHECK (part_size_bytes > 0),
    ADD COLUMN multipart_state text CHECK (multipart_state IN ('uploading', 'completed', 'aborted')),
    ADD CONSTRAINT dataset_files_multipart_whole CHECK (
        (multipart_upload_id IS NULL) = (part_size_bytes IS NULL)
        AND (multipart_upload_id IS NULL) = (multipart_state IS NULL)
    );

-- `upload/complete` finds a dataset's open uploads without reading every file of it.
CREATE INDEX dataset_files_open_multipart ON dataset_files (dataset_id)
    WHERE multipart_state = 'uploading';

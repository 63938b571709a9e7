DROP INDEX dataset_files_open_multipart;
ALTER TABLE dataset_files
    DROP CONSTRAINT dataset_files_multipart_whole,
    DROP COLUMN multipart_state,
    DROP COLUMN part_size_bytes,
    DROP COLUMN multipart_upload_id;

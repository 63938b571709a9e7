ALTER TABLE teams
    DROP COLUMN quota_datasets_per_day,
    DROP COLUMN quota_bytes_stored,
    DROP COLUMN quota_files_per_dataset,
    DROP COLUMN quota_bytes_per_file;

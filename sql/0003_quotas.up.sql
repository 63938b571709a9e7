-- Per-team quotas. NULL means the service-wide default from the settings (LUNA_QUOTA_*).
ALTER TABLE teams
    ADD COLUMN quota_datasets_per_day integer CHECK (quota_datasets_per_day >= 0),
    ADD COLUMN quota_bytes_stored bigint CHECK (quota_bytes_stored >= 0),
    ADD COLUMN quota_files_per_dataset integer CHECK (quota_files_per_dataset >= 1),
    ADD COLUMN quota_bytes_per_file bigint CHECK (quota_bytes_per_file >= 1);

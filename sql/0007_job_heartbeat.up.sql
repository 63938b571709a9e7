-- The sweep looks for processing jobs whose heartbeat went stale (their validator died or
-- lost its message): a partial index keeps that query cheap however many jobs have settled.
CREATE INDEX IF NOT EXISTS validation_jobs_processing_heartbeat
    ON validation_jobs (heartbeat_at) WHERE status = 'processing';

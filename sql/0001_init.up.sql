-- Teams, users, datasets with their declared files, and one validation job per dataset.

CREATE TABLE teams (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id             bigserial PRIMARY KEY,
    username       text NOT NULL UNIQUE CHECK (length(username) BETWEEN 1 AND 128),
    password_hash  text NOT NULL,
    team_id        bigint NOT NULL REFERENCES teams (id),
    is_admin       boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE datasets (
    id           bigserial PRIMARY KEY,
    team_id      bigint NOT NULL REFERENCES teams (id),
    user_id      bigint NOT NULL REFERENCES users (id),
    name         text NOT NULL,
    description  text,
    status       text NOT NULL DEFAULT 'uploading'
                 CHECK (status IN ('uploading', 'queued', 'validating', 'validated', 'failed')),
    files_count  integer NOT NULL,
    bytes_total  bigint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX datasets_team_newest ON datasets (team_id, id DESC);

CREATE TABLE dataset_files (
    id            bigserial PRIMARY KEY,
    dataset_id    bigint NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    filename      text NOT NULL,
    content_type  text NOT NULL,
    size_bytes    bigint NOT NULL CHECK (size_bytes >= 0),
    sha256        text,
    s3_key        text NOT NULL
);
CREATE UNIQUE INDEX dataset_files_name ON dataset_files (dataset_id, lower(filename));

-- The job's id is its dataset's id: one validation per dataset, and `complete` is idempotent.
CREATE TABLE validation_jobs (
    id             bigint PRIMARY KEY REFERENCES datasets (id) ON DELETE CASCADE,
    status         text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    attempts       integer NOT NULL DEFAULT 0,
    files_done     integer NOT NULL DEFAULT 0,
    files_total    integer NOT NULL,
    results        jsonb,
    error_message  text,
    worker         text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    published_at   timestamptz,
    started_at     timestamptz,
    heartbeat_at   timestamptz,
    completed_at   timestamptz
);
CREATE INDEX validation_jobs_unsettled ON validation_jobs (status, published_at)
    WHERE status IN ('pending', 'processing');

CREATE TABLE validation_logs (
    id          bigserial PRIMARY KEY,
    job_id      bigint NOT NULL REFERENCES validation_jobs (id) ON DELETE CASCADE,
    logged_at   timestamptz NOT NULL DEFAULT now(),
    level       text NOT NULL,
    message     text NOT NULL
);
CREATE INDEX validation_logs_job ON validation_logs (job_id, id);

CREATE TABLE findings (
    id        bigserial PRIMARY KEY,
    job_id    bigint NOT NULL REFERENCES validation_jobs (id) ON DELETE CASCADE,
    seq       integer NOT NULL,
    rule      text NOT NULL,
    severity  text NOT NULL CHECK (severity IN ('error', 'warning')),
    file      text,
    "row"     integer,
    message   text NOT NULL
);
CREATE UNIQUE INDEX findings_job_seq ON findings (job_id, seq);
CREATE INDEX findings_job_rule ON findings (job_id, rule, seq);

-- What validation found about each declared file of a job, one row per file. The status body
-- shows a capped page of them and GET /validation/{id}/files pages through all, so a
-- 100,000-file dataset no longer makes a multi-megabyte status. Rows are written by file
-- (idempotent on (job_id, file_id)), so a job split into chunks can commit each chunk's
-- files as it finishes; `findings` and `dicom_patient_id` keep what the dataset-wide pass
-- needs from each file's own inspection.
CREATE TABLE file_reports (
    job_id            bigint NOT NULL REFERENCES validation_jobs (id) ON DELETE CASCADE,
    file_id           bigint NOT NULL REFERENCES dataset_files (id) ON DELETE CASCADE,
    present           boolean NOT NULL,
    size_bytes        bigint,
    sha256            text,
    format            text,
    width             integer,
    height            integer,
    dicom_patient_id  text,
    findings          jsonb NOT NULL DEFAULT '[]',
    PRIMARY KEY (job_id, file_id)
);

-- Jobs settled before this migration kept every file inline in `results`: move them out, and
-- store the per-rule totals and capped findings the status body shows, as commits now do.
INSERT INTO file_reports (job_id, file_id, present, size_bytes, sha256, format, width, height)
SELECT j.id, f.id, true, (e ->> 'size_bytes')::bigint, e ->> 'sha256', e ->> 'format',
       (e ->> 'width')::integer, (e ->> 'height')::integer
FROM validation_jobs j
CROSS JOIN LATERAL jsonb_array_elements(j.results -> 'files') AS e
JOIN dataset_files f ON f.dataset_id = j.id AND f.filename = e ->> 'filename'
WHERE jsonb_typeof(j.results -> 'files') = 'array'
ON CONFLICT DO NOTHING;

UPDATE validation_jobs j
SET results = (j.results - 'files') || jsonb_build_object(
    'files_total', jsonb_array_length(j.results -> 'files'),
    'findings_total', coalesce((
        SELECT jsonb_object_agg(rule, total)
        FROM (SELECT rule, count(*) AS total FROM findings WHERE job_id = j.id GROUP BY rule) c
    ), '{}'::jsonb),
    'findings', coalesce((
        SELECT jsonb_agg(jsonb_build_object('rule', rule, 'severity', severity, 'file', file,
                                            'row', "row", 'message', message) ORDER BY seq)
        FROM (SELECT *, row_number() OVER (PARTITION BY rule ORDER BY seq) AS nth
              FROM findings WHERE job_id = j.id) numbered
        WHERE nth <= 20
    ), '[]'::jsonb),
    'findings_truncated', EXISTS (
        SELECT 1 FROM findings WHERE job_id = j.id GROUP BY rule HAVING count(*) > 20
    )
)
WHERE jsonb_typeof(j.results -> 'files') = 'array';

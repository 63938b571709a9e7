-- Put each settled job's files back inline in `results`, as before 0005.
UPDATE validation_jobs j
SET results = (j.results - 'files_total' - 'findings' - 'findings_total' - 'findings_truncated')
    || jsonb_build_object('files', coalesce((
        SELECT jsonb_agg(jsonb_build_object('filename', f.filename, 'size_bytes', r.size_bytes,
                                            'sha256', r.sha256, 'format', r.format,
                                            'width', r.width, 'height', r.height)
                         ORDER BY f.filename)
        FROM file_reports r JOIN dataset_files f ON f.id = r.file_id
        WHERE r.job_id = j.id AND r.present
    ), '[]'::jsonb))
WHERE j.results IS NOT NULL;

DROP TABLE file_reports;

DROP TABLE findings;
DROP TABLE validation_logs;
DROP TABLE validation_jobs;
DROP TABLE dataset_files;
DROP TABLE datasets;
DROP TABLE users;
DROP TABLE teams;

"""Every tuned number in one place, each with the reason it has its value."""

import os
from typing import Final

MiB: Final = 1024 * 1024
GiB: Final = 1024 * MiB

# The contract's defaults for what `upload/start` accepts.
MAX_FILES_PER_DATASET: Final = 100_000
MAX_FILE_BYTES: Final = 5 * GiB
# Default per-team quotas: generous for a competition (a team re-submits a few times a day),
# tight enough that a runaway script cannot fill the store.
QUOTA_DATASETS_PER_DAY: Final = 50
QUOTA_BYTES_STORED: Final = 2 * 1024 * GiB
# A filename is a relative path; 255 bytes is the common filesystem limit for one name.
MAX_FILENAME_BYTES: Final = 255

# A 100,000-file `upload/start` body is ~15 MB of JSON; anything larger is not a dataset.
MAX_REQUEST_BODY_BYTES: Final = 32 * MiB

# Presigned URLs live long enough for a slow upload of a large dataset, not for days.
UPLOAD_URL_EXPIRES_S: Final = 4 * 3600
ACCESS_TOKEN_EXPIRES_S: Final = 12 * 3600

# Reading objects: large enough that per-chunk overhead vanishes, small enough to bound memory.
STREAM_CHUNK_BYTES: Final = 1 * MiB

# Files of one dataset inspected at once: overlaps reading from storage with decoding.
FILES_IN_FLIGHT: Final = 3
# Nice value of the threads that hash and decode: the event loop (probes, API) stays at 0
# and is scheduled first when validation keeps every core busy.
VALIDATION_NICE: Final = 10
# A job's progress is written at most this often (and after its last file): enough for a
# live progress bar, without a database write per file of a 100,000-file dataset.
PROGRESS_INTERVAL_S: Final = 0.5

# A job that keeps failing for a platform reason (storage down, a crash) is given up after this
# many attempts and marked `failed` with the reason, so nothing stays `pending` forever.
MAX_JOB_ATTEMPTS: Final = 3
# Delay before a retried job runs again: storage blips usually last seconds. It doubles with
# each attempt (5 s, 10 s), so three attempts span an outage of about 20 s.
JOB_RETRY_DELAY_S: Final = 5.0
JOB_RETRY_DELAY_MAX_S: Final = 60.0
# A validator marks its job alive this often, even while one large file streams.
HEARTBEAT_INTERVAL_S: Final = 10.0
# A processing job whose heartbeat is older than this lost its validator (six beats missed):
# the sweep publishes it again, whatever the broker's state.
HEARTBEAT_STALE_S: Final = 60.0
# RabbitMQ cancels a consumer holding a message longer than its consumer_timeout (30 min by
# default); a job is cut off well before that and retried.
JOB_TIME_LIMIT_S: Final = 20 * 60

# A committed job whose publish was never confirmed is republished after this long (the
# request that committed it publishes within milliseconds when the broker is up).
UNCONFIRMED_PUBLISH_AFTER_S: Final = 10.0
# A job pending or processing without a sign of life this long may have lost its message
# (a broker that lost its disk); republishing is harmless, as settled jobs are skipped.
REPUBLISH_AFTER_S: Final = 15 * 60.0
RECONCILE_INTERVAL_S: Final = 30.0

# A dataset still uploading this long after it started is abandoned: a week covers a team
# resuming a large upload after a weekend.
ABANDON_AFTER_S: Final = 7 * 24 * 3600.0
SWEEP_INTERVAL_S: Final = 3600.0
# Datasets swept per round, so one round stays short.
SWEEP_BATCH: Final = 100

# How often the queue-length gauge is refreshed from the broker (autoscaling reads it).
QUEUE_GAUGE_INTERVAL_S: Final = 5.0
# How often a process with validators tells the API processes it is alive (luna.workers); the
# organisers' view forgets it after three silent beats.
WORKER_BEAT_INTERVAL_S: Final = 5.0

# Kubernetes gives 30 s by default between SIGTERM and SIGKILL; drain in less.
SHUTDOWN_GRACE_S: Final = 25.0

# The status body shows at most this many findings per rule; the rest are paginated.
FINDINGS_PER_RULE_IN_STATUS: Final = 20
# An event stream whose client takes nothing for this long is dropped: a reader that stopped
# reading must not keep a handler (and its buffers) forever. Generous for a slow link, as an
# event is at most a status body (tens of KiB).
SSE_WRITE_TIMEOUT_S: Final = 10.0

# The status body shows the first this many stored files (with `files_total` and
# `files_truncated`), so it stays a few KiB for any dataset; `/files` pages through all.
FILES_IN_STATUS: Final = 100
# Settled jobs' status bodies kept per replica: every dataset of a busy competition day, a
# status being under 64 KiB; the bytes bound holds whatever the bodies' sizes.
STATUS_CACHE_ENTRIES: Final = 4096
STATUS_CACHE_BYTES: Final = 128 * MiB
FILES_PAGE_DEFAULT: Final = 1000
FILES_PAGE_MAX: Final = 10_000
FINDINGS_PAGE_DEFAULT: Final = 100
FINDINGS_PAGE_MAX: Final = 1000
DATASETS_PAGE_DEFAULT: Final = 50
DATASETS_PAGE_MAX: Final = 200

# Password hashing (scrypt): ~16 MiB of memory per hash, ~50 ms on this class of machine.
SCRYPT_N: Final = 2**14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1

# Failed logins allowed per minute: per username (guessing one password), and per client
# address, higher because a whole team may sit behind one NAT address.
LOGIN_FAILURES_PER_USER_PER_MINUTE: Final = 10
LOGIN_FAILURES_PER_ADDRESS_PER_MINUTE: Final = 50

# Files larger than this upload in parts (S3 multipart): a broken connection then costs one
# part, not the file, and an interrupted upload resumes where it stopped.
MULTIPART_THRESHOLD_BYTES: Final = 64 * MiB
# A part is small enough to resend cheaply and large enough that a 5 GiB file needs only 320
# requests; grown for files that would need more parts than S3 allows.
MULTIPART_PART_BYTES: Final = 16 * MiB
# S3's limits (AWS and MinIO alike): every part but the last at least 5 MiB, at most 10,000
# parts, and a single PUT at most 5 GiB.
S3_MIN_PART_BYTES: Final = 5 * MiB
S3_MAX_PARTS: Final = 10_000
S3_MAX_PUT_BYTES: Final = 5 * GiB
# Part URLs one `POST /upload/parts` hands out: clients ask in batches as they go, so a URL is
# still fresh when its part is sent, and a 10,000-part file needs ten requests.
MAX_PART_URLS_PER_REQUEST: Final = 1000
# Store calls (create, list, complete) one request keeps in flight: enough to hide latency,
# few enough not to crowd out the validators' reads.
MULTIPART_STORE_CONCURRENCY: Final = 8

# `upload/urls` asks the store whether each file is already there: a HEAD per file, this many
# at once, so resuming a 100,000-file dataset takes seconds without flooding the store.
STORED_LOOKUPS_IN_FLIGHT: Final = 32
# Declared files are written by COPY in chunks of this many rows (each its own transaction),
# and per-file facts learned at `upload/complete` (multipart outcomes, ETags) by one UPDATE
# per chunk: a 100,000-file dataset never holds a transaction for long (a chunk takes ~0.1 s
# on an idle machine, under 1 s on a saturated one), and no statement grows without bound.
FILE_ROWS_PER_COPY: Final = 10_000
FILE_ROWS_PER_UPDATE: Final = 10_000
# Objects changed after upload/complete that GET /datasets/{id} names (it counts them all).
CHANGED_OBJECTS_SHOWN: Final = 100
# Connection pools. Redis serves only login limits: one short script per login, so 50
# connections carry thousands of logins a second; redis-py's default pool raises at its limit
# instead of waiting, so the size and the wait are set explicitly. The S3 client keeps sockets
# for every validator's stream beside /health's ping and the API's multipart calls.
REDIS_POOL_SIZE: Final = 50
S3_POOL_SIZE: Final = 32
# A request waits this long for a free connection before it is told to retry (503): long
# enough to ride out a burst, short enough that the client's own retry is the better bet.
POOL_WAIT_S: Final = 10.0
# scrypt uses a core for ~50 ms: half the cores at most, so the event loop and validators keep
# theirs; a login waiting longer than LOGIN_WAIT_S for its turn is told to retry.
LOGIN_CONCURRENCY: Final = max(1, (os.cpu_count() or 2) // 2)
LOGIN_WAIT_S: Final = 30.0

# A user's identity (team, role, token version) is cached per process this long; a NOTIFY
# from PostgreSQL drops it at once, so this only bounds staleness while the listener is down.
IDENTITY_CACHE_S: Final = 5.0
IDENTITY_CACHE_ENTRIES: Final = 10_000
# The shortest password `luna user add` accepts (NIST SP 800-63B asks for at least 8).
MIN_PASSWORD_LENGTH: Final = 10

# Slow clients (slowloris): a real client sends its request head in milliseconds, so 10 s is
# generous even over a bad mobile link. A body gets 30 s, then must average 16 KiB/s (128
# kbit/s): a 5 GiB file at that pace still has 90 hours, a connection trickling bytes to hold
# a socket and a temp file open is cut off.
HEADER_TIMEOUT_S: Final = 10.0
BODY_TIMEOUT_S: Final = 30.0
BODY_MIN_BYTES_PER_S: Final = 16 * 1024

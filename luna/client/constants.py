"""The team client's tuned numbers, each with the reason it has its value."""

from typing import Final

MiB: Final = 1024 * 1024

DEFAULT_SERVER_URL: Final = "http://127.0.0.1:8000"

# Four uploads in flight fill a typical uplink without many slow streams competing for it.
DEFAULT_PARALLEL_UPLOADS: Final = 4
MAX_PARALLEL_UPLOADS: Final = 32

# Large enough that per-chunk overhead (a thread hop, a progress update) vanishes, small enough
# that a 5 GiB file streams in bounded memory.
READ_CHUNK_BYTES: Final = 1 * MiB
# SHA-256 releases the GIL on large buffers: a few threads keep fast disks busy.
HASH_THREADS: Final = 4

# Files from this size ask "Expect: 100-continue" before sending: one round trip, negligible
# next to the transfer, and a refused URL costs nothing instead of the whole file.
EXPECT_CONTINUE_MIN_BYTES: Final = 8 * MiB

# Retries of one file (or, later, one part): connection errors and 5xx are usually a blip of
# seconds; five attempts with exponential backoff ride out about half a minute.
UPLOAD_ATTEMPTS: Final = 5
RETRY_BASE_DELAY_S: Final = 0.5
RETRY_MAX_DELAY_S: Final = 15.0

# A server that does not accept a connection in this long is down, not slow.
CONNECT_TIMEOUT_S: Final = 30.0
# Per socket read, never for a whole request: upload/start for 100,000 files takes a while.
API_READ_TIMEOUT_S: Final = 120.0
# The store answers a PUT once the whole body arrived; a 5 GiB file may take hours in total,
# so only a silence this long counts as a failure.
UPLOAD_READ_TIMEOUT_S: Final = 300.0
# The events stream sends a keep-alive comment every 15 s; four missed ones mean it is gone.
EVENTS_READ_TIMEOUT_S: Final = 60.0

# Polling the status route when the events stream is not available.
POLL_INTERVAL_S: Final = 1.0
# Consecutive failed status reads (server restarting, network blip) before giving up.
STATUS_READ_ATTEMPTS: Final = 8

# Progress: redraw often on a terminal; in a log (CI, a pipe) one plain line now and then.
TTY_REDRAW_INTERVAL_S: Final = 0.1
PLAIN_PROGRESS_INTERVAL_S: Final = 5.0
# The rate shown is over this recent window, so it follows the network, not the average.
RATE_WINDOW_S: Final = 10.0

# Part URLs asked for at once, just before their parts are sent: a batch is used up in
# minutes, long before its URLs expire, and a 10,000-part file still needs few requests.
PART_URL_BATCH: Final = 32
# Multipart files whose stored parts are listed at once when a submission resumes.
RESUME_LOOKUPS_IN_FLIGHT: Final = 8

// Teams uploading under deadline pressure: each virtual user is one team with its own account.
// One iteration: log in, upload/start, PUT every file to its presigned URL, upload/complete,
// then poll status until the job is completed or failed. Run through `make load` (run.py),
// which creates the accounts and the dataset and prints the per-endpoint figures.
//
//   LUNA_URL        luna's address                     (default http://127.0.0.1:8000)
//   LOAD_TEAMS      teams at once (virtual users)      (default 24)
//   LOAD_ITERATIONS datasets per team                  (default 1)
//   LOAD_USER       account name prefix                (default load-team-)
//   LOAD_PASSWORD   the accounts' password             (required)
//   LOAD_DATASET    a JSON index of the files to send  (written by run.py)
//   LOAD_POLL_S     seconds between status polls       (default 0.5)
//   LOAD_WAIT_S     how long a job may take to settle  (default 300)
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import exec from 'k6/execution';

const BASE = (__ENV.LUNA_URL || 'http://127.0.0.1:8000').replace(/\/$/, '');
const TEAMS = parseInt(__ENV.LOAD_TEAMS || '24', 10);
const ITERATIONS = parseInt(__ENV.LOAD_ITERATIONS || '1', 10);
const PREFIX = __ENV.LOAD_USER || 'load-team-';
const PASSWORD = __ENV.LOAD_PASSWORD;
const POLL_S = parseFloat(__ENV.LOAD_POLL_S || '0.5');
const WAIT_S = parseFloat(__ENV.LOAD_WAIT_S || '300');

const index = JSON.parse(open(__ENV.LOAD_DATASET));
const files = index.files.map((f) => ({ ...f, body: open(f.path, 'b') }));

export const latency = {
  login: new Trend('luna_login_ms', true),
  start: new Trend('luna_start_ms', true),
  put: new Trend('luna_put_ms', true),
  complete: new Trend('luna_complete_ms', true),
  status: new Trend('luna_status_ms', true),
};
const failures = new Counter('luna_failed_requests');
const completed = new Counter('luna_datasets_completed');
const unsettled = new Counter('luna_datasets_not_completed');

export const options = {
  scenarios: {
    teams: {
      executor: 'per-vu-iterations',
      vus: TEAMS,
      iterations: ITERATIONS,
      maxDuration: `${Math.ceil(WAIT_S + 600)}s`,
    },
  },
  summaryTrendStats: ['p(50)', 'p(95)', 'max', 'count'],
  // Every request must succeed: a 4xx/5xx anywhere is a failure of the run.
  thresholds: { luna_failed_requests: ['count==0'], luna_datasets_not_completed: ['count==0'] },
};

export function request(kind, method, url, body, params) {
  // A login may queue behind a burst of others for its turn at the password check.
  const response = http.request(method, url, body, { timeout: '180s', ...params, tags: { endpoint: kind } });
  latency[kind].add(response.timings.duration);
  const ok = response.status >= 200 && response.status < 300;
  if (!ok) {
    failures.add(1, { endpoint: kind, status: String(response.status) });
    console.error(`${kind} ${method} ${url.split('?')[0]}: ${response.status} ${String(response.body).slice(0, 200)}`);
  }
  return ok ? response : null;
}

export function logIn(team) {
  const response = request('login', 'POST', `${BASE}/api/v1/auth/login`,
    JSON.stringify({ username: `${PREFIX}${team}`, password: PASSWORD }),
    { headers: { 'Content-Type': 'application/json' } });
  return response ? { Authorization: `Bearer ${response.json('access_token')}`, 'Content-Type': 'application/json' } : null;
}

export function submitDataset(headers, name) {
  const declared = files.map((f) => ({
    filename: f.filename, content_type: f.content_type, size_bytes: f.size_bytes, sha256: f.sha256,
  }));
  const started = request('start', 'POST', `${BASE}/api/v1/upload/start`,
    JSON.stringify({ dataset_name: name, files: declared }), { headers });
  if (!started) return null;
  const byName = Object.fromEntries(files.map((f) => [f.filename, f]));
  for (const entry of started.json('upload_urls')) {
    // Exactly the headers luna signed; k6 sets Content-Length from the body itself.
    const putHeaders = Object.fromEntries(
      Object.entries(entry.headers).filter(([k]) => k.toLowerCase() !== 'content-length'));
    request('put', entry.method, entry.upload_url, byName[entry.filename].body, { headers: putHeaders });
  }
  const datasetId = started.json('dataset_id');
  if (!request('complete', 'POST', `${BASE}/api/v1/upload/complete`,
    JSON.stringify({ dataset_id: datasetId }), { headers })) return null;
  return datasetId;
}

export function pollStatus(headers, datasetId) {
  const deadline = Date.now() + WAIT_S * 1000;
  while (Date.now() < deadline) {
    const response = request('status', 'GET', `${BASE}/api/v1/validation/${datasetId}/status`, null, { headers });
    const status = response ? response.json('status') : null;
    if (status === 'completed') return true;
    if (status === 'failed') {
      console.error(`dataset ${datasetId} failed: ${response.json('error_message')}`);
      return false;
    }
    sleep(POLL_S);
  }
  console.error(`dataset ${datasetId} not settled after ${WAIT_S} s`);
  return false;
}

export default function () {
  const team = exec.vu.idInTest;
  const headers = logIn(team);
  if (!headers) { unsettled.add(1); return; }
  const datasetId = submitDataset(headers, `load-${team}-${exec.vu.iterationInScenario}`);
  const done = datasetId !== null && pollStatus(headers, datasetId);
  check(done, { 'dataset completed': (d) => d });
  (done ? completed : unsettled).add(1);
}

export { summary as handleSummary } from './summary.js';

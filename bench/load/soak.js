// Status soak: LOAD_TEAMS teams each submit one dataset, wait for it to complete, then poll
// its status as fast as they can for LOAD_SOAK_S seconds (what dashboards and impatient
// teams do). Same environment as flow.js, plus LOAD_SOAK_S (default 30).
import { sleep } from 'k6';
import exec from 'k6/execution';
import { logIn, pollStatus, request, submitDataset } from './flow.js';

const BASE = (__ENV.LUNA_URL || 'http://127.0.0.1:8000').replace(/\/$/, '');
const TEAMS = parseInt(__ENV.LOAD_TEAMS || '24', 10);
const SOAK_S = parseFloat(__ENV.LOAD_SOAK_S || '30');

export const options = {
  scenarios: {
    soak: { executor: 'per-vu-iterations', vus: TEAMS, iterations: 1, maxDuration: `${Math.ceil(SOAK_S + 900)}s` },
  },
  summaryTrendStats: ['p(50)', 'p(95)', 'max', 'count'],
  thresholds: { luna_failed_requests: ['count==0'] },
};

export default function () {
  const team = exec.vu.idInTest;
  const headers = logIn(team);
  if (!headers) return;
  const datasetId = submitDataset(headers, `soak-${team}`);
  if (datasetId === null || !pollStatus(headers, datasetId)) return;
  const end = Date.now() + SOAK_S * 1000;
  while (Date.now() < end) {
    request('status', 'GET', `${BASE}/api/v1/validation/${datasetId}/status`, null, { headers });
    sleep(0.01);
  }
}

export { summary as handleSummary } from './summary.js';

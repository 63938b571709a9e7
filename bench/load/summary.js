// The end-of-run table: p50/p95/max per endpoint, failed requests, datasets completed.
// Also writes the raw summary to LOAD_SUMMARY (a JSON file) when set.
const ENDPOINTS = ['login', 'start', 'put', 'complete', 'status'];

function row(name, trend) {
  if (!trend) return null;
  const v = trend.values;
  const ms = (x) => (x === undefined ? '-' : x.toFixed(1)).padStart(9);
  return `  ${name.padEnd(10)}${String(v.count).padStart(8)}${ms(v['p(50)'])}${ms(v['p(95)'])}${ms(v.max)}`;
}

export function summary(data) {
  const m = data.metrics;
  const lines = ['', `  ${'endpoint'.padEnd(10)}${'requests'.padStart(8)}${'p50 ms'.padStart(9)}${'p95 ms'.padStart(9)}${'max ms'.padStart(9)}`];
  for (const name of ENDPOINTS) {
    const line = row(name, m[`luna_${name}_ms`]);
    if (line) lines.push(line);
  }
  const count = (name) => (m[name] ? m[name].values.count : 0);
  lines.push('');
  lines.push(`  failed requests: ${count('luna_failed_requests')}`);
  if (m.luna_datasets_completed || m.luna_datasets_not_completed) {
    lines.push(`  datasets completed: ${count('luna_datasets_completed')}, not completed: ${count('luna_datasets_not_completed')}`);
  }
  lines.push(`  duration: ${(data.state.testRunDurationMs / 1000).toFixed(1)} s`, '');
  const out = { stdout: lines.join('\n') + '\n' };
  if (__ENV.LOAD_SUMMARY) out[__ENV.LOAD_SUMMARY] = JSON.stringify(data, null, 1);
  return out;
}

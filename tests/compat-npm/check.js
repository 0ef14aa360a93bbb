// Drives a Cairn server with the stock npm `mlflow` client (Yuhsak/mlflow 2.0.7) and checks every call
// it has. Usage: node check.js http://127.0.0.1:PORT. Prints "RESULT ok|FAIL name" lines and
// "N passed, N failed"; exits non-zero on any failure.
'use strict';
const assert = require('node:assert/strict');
const MLflow = require('mlflow');

const endpoint = process.argv[2];
if (!endpoint) { console.error('usage: node check.js URL'); process.exit(2); }
const client = new MLflow({ endpoint });
const { Experiments, Runs, Metrics, Artifacts } = client;
// The client console.logs every POST body; keep our report readable.
const log = console.log.bind(console);
console.log = () => {};

const results = [];
async function check(name, body) {
  try { await body(); results.push([name, null]); log(`RESULT ok ${name}`); }
  catch (e) { results.push([name, e]); log(`RESULT FAIL ${name}: ${e && e.stack || e}`); }
}
async function rejects(promise, code) {
  try { await promise; } catch (e) {
    const parsed = JSON.parse(String(e.message).replace(/^Error: /, ''));
    assert.equal(parsed.data.error_code, code, `expected ${code}, got ${JSON.stringify(parsed)}`);
    return parsed;
  }
  assert.fail(`expected an error ${code}`);
}

(async () => {
  const prefix = `npm-${Date.now()}`;
  let experimentId, runId, otherRunId;
  const t0 = Date.now();

  await check('experiments.create', async () => {
    const r = await Experiments.create({ name: `${prefix}-exp` });
    assert.match(r.experiment_id, /^\d+$/);
    experimentId = r.experiment_id;
  });
  await check('experiments.create duplicate -> RESOURCE_ALREADY_EXISTS', () =>
    rejects(Experiments.create({ name: `${prefix}-exp` }), 'RESOURCE_ALREADY_EXISTS'));
  await check('experiments.get', async () => {
    const { experiment } = await Experiments.get({ experiment_id: experimentId });
    assert.equal(experiment.name, `${prefix}-exp`);
    assert.equal(experiment.lifecycle_stage, 'active');
  });
  await check('experiments.get unknown -> RESOURCE_DOES_NOT_EXIST', () =>
    rejects(Experiments.get({ experiment_id: '987654321' }), 'RESOURCE_DOES_NOT_EXIST'));
  await check('experiments.list', async () => {
    const { experiments } = await Experiments.list();
    assert.ok(experiments.some(e => e.experiment_id === experimentId));
    assert.ok(experiments.some(e => e.experiment_id === '0' && e.name === 'Default'));
  });
  await check('experiments.update renames', async () => {
    await Experiments.update({ experiment_id: experimentId, new_name: `${prefix}-renamed` });
    const { experiment } = await Experiments.get({ experiment_id: experimentId });
    assert.equal(experiment.name, `${prefix}-renamed`);
  });

  await check('runs.create', async () => {
    const { run } = await Runs.create({ experiment_id: experimentId, user_id: 'npm-user', start_time: t0, tags: [{ key: 'team', value: 'ml' }] });
    assert.match(run.info.run_id, /^[0-9a-f]{32}$/);
    assert.equal(run.info.status, 'RUNNING');
    assert.equal(Number(run.info.start_time), t0);
    runId = run.info.run_id;
    const other = await Runs.create({ experiment_id: experimentId, user_id: 'npm-user', start_time: t0 + 1 });
    otherRunId = other.run.info.run_id;
  });
  await check('runs.logParameter and immutability', async () => {
    await Runs.logParameter({ run_id: runId, key: 'model', value: 'rf' });
    await Runs.logParameter({ run_id: runId, key: 'model', value: 'rf' });
    await rejects(Runs.logParameter({ run_id: runId, key: 'model', value: 'gbt' }), 'INVALID_PARAMETER_VALUE');
  });
  await check('runs.logMetric with steps', async () => {
    for (let step = 0; step < 5; step++)
      await Runs.logMetric({ run_id: runId, key: 'acc', value: 0.5 + step / 10, timestamp: t0 + step, step });
  });
  await check('runs.setTag and deleteTag', async () => {
    await Runs.setTag({ run_id: runId, key: 'stage', value: 'dev' });
    await Runs.setTag({ run_id: runId, key: 'temp', value: 'x' });
    await Runs.deleteTag({ run_id: runId, key: 'temp' });
    const { run } = await Runs.get({ run_id: runId });
    const tags = Object.fromEntries(run.data.tags.map(t => [t.key, t.value]));
    assert.equal(tags.stage, 'dev');
    assert.equal(tags.team, 'ml');
    assert.equal(tags.temp, undefined);
  });
  await check('runs.logBatch', async () => {
    const metrics = [];
    for (let i = 0; i < 100; i++) metrics.push({ key: 'loss', value: 1 / (i + 1), timestamp: t0 + i, step: i });
    await Runs.logBatch({ run_id: otherRunId, metrics, params: [{ key: 'model', value: 'gbt' }], tags: [{ key: 'stage', value: 'prod' }] });
    const { run } = await Runs.get({ run_id: otherRunId });
    assert.equal(run.data.params.find(p => p.key === 'model').value, 'gbt');
    assert.equal(run.data.metrics.find(m => m.key === 'loss').step, 99);
  });
  await check('runs.logBatch over the limit -> INVALID_PARAMETER_VALUE', async () => {
    const metrics = [];
    for (let i = 0; i < 1001; i++) metrics.push({ key: 'x', value: i, timestamp: t0, step: i });
    await rejects(Runs.logBatch({ run_id: otherRunId, metrics }), 'INVALID_PARAMETER_VALUE');
  });
  await check('runs.get', async () => {
    const { run } = await Runs.get({ run_id: runId });
    assert.equal(run.info.experiment_id, experimentId);
    assert.equal(run.data.metrics.find(m => m.key === 'acc').value, 0.9);
    assert.equal(run.data.params.find(p => p.key === 'model').value, 'rf');
  });
  await check('runs.get unknown -> RESOURCE_DOES_NOT_EXIST', () =>
    rejects(Runs.get({ run_id: 'f'.repeat(32) }), 'RESOURCE_DOES_NOT_EXIST'));
  await check('metrics.getHistory', async () => {
    const { metrics } = await Metrics.getHistory({ run_id: runId, metric_key: 'acc' });
    assert.deepEqual(metrics.map(m => Number(m.step)), [0, 1, 2, 3, 4]);
    assert.equal(metrics[4].value, 0.9);
  });
  await check('runs.search with filter and order_by', async () => {
    const { runs } = await Runs.search({ experiment_ids: [experimentId], filter: "params.model = 'rf' and metrics.acc > 0.8" });
    assert.deepEqual(runs.map(r => r.info.run_id), [runId]);
    const ordered = await Runs.search({ experiment_ids: [experimentId], order_by: ['attributes.start_time ASC'] });
    assert.deepEqual(ordered.runs.map(r => r.info.run_id), [runId, otherRunId]);
    const either = await Runs.search({ experiment_ids: [experimentId], filter: "tags.stage = 'dev' OR tags.stage = 'prod'" });
    assert.equal(either.runs.length, 2);
  });
  await check('runs.search paging', async () => {
    const first = await Runs.search({ experiment_ids: [experimentId], max_results: 1 });
    assert.equal(first.runs.length, 1);
    assert.ok(first.next_page_token);
    const second = await Runs.search({ experiment_ids: [experimentId], max_results: 1, page_token: first.next_page_token });
    assert.equal(second.runs.length, 1);
    assert.notEqual(second.runs[0].info.run_id, first.runs[0].info.run_id);
  });
  await check('runs.search bad filter -> INVALID_PARAMETER_VALUE', () =>
    rejects(Runs.search({ experiment_ids: [experimentId], filter: 'metrics.acc >' }), 'INVALID_PARAMETER_VALUE'));
  await check('runs.update', async () => {
    const r = await Runs.update({ run_id: runId, status: 'FINISHED', end_time: t0 + 1000 });
    assert.equal(r.run_info.status, 'FINISHED');
    assert.equal(Number(r.run_info.end_time), t0 + 1000);
  });
  await check('artifacts.list', async () => {
    const r = await Artifacts.list({ run_id: runId });
    assert.ok(r && typeof r === 'object');
    assert.ok(String(r.root_uri || '').includes(runId), `root_uri ${r.root_uri}`);
  });
  await check('runs.delete and restore', async () => {
    await Runs.delete({ run_id: otherRunId });
    let { runs } = await Runs.search({ experiment_ids: [experimentId] });
    assert.deepEqual((runs || []).map(r => r.info.run_id), [runId]);
    await Runs.restore({ run_id: otherRunId });
    ({ runs } = await Runs.search({ experiment_ids: [experimentId] }));
    assert.equal(runs.length, 2);
  });
  await check('experiments.delete and restore', async () => {
    await Experiments.delete({ experiment_id: experimentId });
    const { experiment } = await Experiments.get({ experiment_id: experimentId });
    assert.equal(experiment.lifecycle_stage, 'deleted');
    await Experiments.restore({ experiment_id: experimentId });
    const again = await Experiments.get({ experiment_id: experimentId });
    assert.equal(again.experiment.lifecycle_stage, 'active');
  });

  const failed = results.filter(r => r[1]).length;
  log(`${results.length - failed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
})();

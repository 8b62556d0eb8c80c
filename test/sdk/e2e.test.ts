/**
 * The SDK against the local platform, started in this test: the catalog calls, a directory logged and deployed with
 * its progress, predictions over both protocols compared with the examples' independent references, a traffic split
 * with a mirror, a deploy that fails with the model server's reason, an upload interrupted on the way and retried,
 * undeploy. Every API answer the SDK gets is checked against the platform's OpenAPI document.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createMerlin,
  DeploymentFailedError,
  type Merlin,
  MerlinApiError,
  MerlinError,
  type ProgressEvent,
} from '../../sdk/node.js';
import { contractFor, enableContract } from '../helpers/openapi-contract.js';
import { BROKEN, IRIS, startTestPlatform } from '../helpers/platform.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const iris = JSON.parse(readFileSync(`${ROOT}examples/iris/reference.json`, 'utf8')) as {
  instances: number[][];
  probabilities: number[][];
  labels: number[];
};
const scorecard = JSON.parse(readFileSync(`${ROOT}examples/function/reference.json`, 'utf8')) as {
  instances: number[][];
  probabilities: number[];
  decisions: string[];
};

/** fetch that checks every API answer against the OpenAPI document. */
const checkedFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  const url = String(input);
  const contract = contractFor(url);
  if (contract) {
    const text = await res.clone().text();
    contract.check(init?.method ?? 'GET', url, res.status, text ? JSON.parse(text) : undefined);
  }
  return res;
};

const stepsOf = (events: ProgressEvent[]) =>
  events.flatMap((e) => (e.type === 'step' ? [`${e.depth === 1 ? '  ' : ''}${e.step}: ${e.status}`] : []));

describe('SDK e2e against the local platform', () => {
  let stop: () => Promise<void>;
  let url: string;
  let merlin: Merlin;

  beforeAll(async () => {
    // A mirror and two destinations: three active versions, above Merlin's default limit of 2.
    const p = await startTestPlatform({
      environments: [{ name: 'local', isDefault: true, cluster: { kind: 'local' }, maxActiveVersionsPerModel: 3 }],
    });
    stop = () => p.stop();
    url = p.platform.url;
    await enableContract(url);
    merlin = createMerlin({ url, fetch: checkedFetch });
  });
  afterAll(async () => {
    await stop?.();
  });

  it('projects, models and versions: create, typed errors, paging, labels, optimistic locking', async () => {
    const demo = await merlin.projects.create({ name: 'sdk-demo', labels: { team: 'ds' } });
    expect(demo).toMatchObject({ name: 'sdk-demo', labels: { team: 'ds' }, revision: 1 });
    const dup = await merlin.projects.create({ name: 'sdk-demo' }).catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(MerlinApiError);
    expect(dup).toMatchObject({ status: 409 });
    expect((dup as MerlinApiError).message).toContain('sdk-demo');
    expect(await merlin.projects.ensure({ name: 'sdk-demo' })).toMatchObject({ name: 'sdk-demo', created: false });
    expect(await merlin.projects.ensure({ name: 'sdk-other' })).toMatchObject({ created: true });
    await merlin.projects.create({ name: 'sdk-third' });

    const names: string[] = [];
    for await (const p of merlin.projects.list({ pageSize: 2, search: 'sdk-' })) names.push(p.name);
    expect(names.sort()).toEqual(['sdk-demo', 'sdk-other', 'sdk-third']);
    const first = await merlin.projects.list({ pageSize: 2, search: 'sdk-' }).page();
    expect(first.items).toHaveLength(2);
    expect(first.nextCursor).toEqual(expect.any(String));

    const updated = await merlin.projects.update('sdk-demo', { description: 'walkthrough' }, { ifMatch: 1 });
    expect(updated.revision).toBe(2);
    await expect(merlin.projects.update('sdk-demo', { description: 'stale' }, { ifMatch: 1 })).rejects.toMatchObject({
      status: 412,
      code: 'PRECONDITION_FAILED',
    });
    const bad = await merlin.projects.create({ name: 'X' }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    expect((bad as Error).message).toMatch(/lowercase letters/);

    await merlin.models.create('sdk-demo', { name: 'iris', type: 'onnx' });
    await expect(merlin.models.ensure('sdk-demo', { name: 'iris', type: 'xgboost' })).rejects.toThrow(
      /exists with type "onnx"/,
    );
    const v = await merlin.versions.create(
      { project: 'sdk-demo', model: 'iris' },
      { labels: { team: 'ds', stage: 'dev' }, params: { max_iter: 1000 }, metrics: { accuracy: 0.97 } },
    );
    await merlin.versions.create({ project: 'sdk-demo', model: 'iris' }, { labels: { team: 'other' } });
    const ds = await merlin.versions.list({ project: 'sdk-demo', model: 'iris' }, { label: { team: 'ds' } }).all();
    expect(ds.map((x) => x.version)).toEqual([v.version]);
    const patched = await merlin.versions.update(v, { metrics: { accuracy: 0.98 } });
    expect(patched.metrics).toEqual({ accuracy: 0.98 });
    await expect(merlin.versions.get({ ...v, version: 99 })).rejects.toMatchObject({ status: 404, code: 'NOT_FOUND' });
  });

  it('logs a directory, deploys it reporting each step as it goes, predicts over V1 and V2', async () => {
    await merlin.projects.ensure({ name: 'sdk-fn' });
    await merlin.models.ensure('sdk-fn', { name: 'scorecard', type: 'function' });
    const events: ProgressEvent[] = [];
    const v = await merlin.logModel(
      { project: 'sdk-fn', model: 'scorecard' },
      {
        path: `${ROOT}examples/function`,
        version: { labels: { example: 'function' } },
        onProgress: (e) => events.push(e),
      },
    );
    expect(v.artifact.status).toBe('complete');
    const expected = ['README.md', 'index.mjs', 'reference.json', 'reference.py', 'scorecard.json'];
    expect(v.artifact.files.map((f) => f.path).sort()).toEqual(expected);
    const index = readFileSync(`${ROOT}examples/function/index.mjs`);
    expect(v.artifact.files.find((f) => f.path === 'index.mjs')).toEqual({
      path: 'index.mjs',
      size: index.length,
      sha256: createHash('sha256').update(index).digest('hex'),
    });
    const uploaded = stepsOf(events).filter((s) => s.startsWith('Upload'));
    expect(uploaded.filter((s) => s.endsWith('succeeded')).sort()).toEqual(
      expected.map((f) => `Upload ${f}: succeeded`),
    );
    expect(stepsOf(events).at(-1)).toBe('Verify artifact: succeeded');

    const deployEvents: ProgressEvent[] = [];
    const endpoint = await merlin.deploy(v, { onProgress: (e) => deployEvents.push(e), timeoutMs: 60_000 });
    expect(endpoint).toMatchObject({ status: 'running', version: v.version, environment: 'local' });
    const steps = stepsOf(deployEvents);
    const what = `Deploy sdk-fn/scorecard@${v.version} to local`;
    expect(steps[0]).toBe(`${what}: running`);
    expect(steps.at(-1)).toBe(`${what}: succeeded`);
    // each workflow step's end, once, in the workflow's order; a start (when seen) before its end
    const ends = steps.filter((s) => s.startsWith('  ') && !s.endsWith('running'));
    expect(ends).toEqual([
      '  Prepare: succeeded',
      '  Build Image: skipped',
      '  Apply Revision: succeeded',
      '  Wait Until Ready: succeeded',
      '  Promote: succeeded',
    ]);
    // Waiting for the model server takes several polls: some step is seen running (else the loop checks nothing).
    const starts = steps.filter((x) => x.endsWith('running') && x.startsWith('  '));
    expect(starts.length, steps.join('\n')).toBeGreaterThan(0);
    for (const s of starts) {
      expect(steps.indexOf(s)).toBeLessThan(steps.indexOf(s.replace('running', 'succeeded')));
    }
    const waited = deployEvents.find(
      (e) => e.type === 'step' && e.step === 'Wait Until Ready' && e.status !== 'running',
    );
    expect(waited).toMatchObject({ durationMs: expect.any(Number) });

    const target = { project: 'sdk-fn', model: 'scorecard', version: v.version };
    const v1 = await merlin.predict(target, { instances: scorecard.instances });
    expect(v1.version).toBe(v.version);
    const predictions = v1.body.predictions as { probability: number; decision: string }[];
    expect(predictions.map((p) => p.decision)).toEqual(scorecard.decisions);
    predictions.forEach((p, i) => {
      expect(Math.abs(p.probability - scorecard.probabilities[i]!)).toBeLessThan(1e-12);
    });
    const v2 = await merlin.predict(target, {
      inputs: [{ name: 'features', shape: [2, 4], datatype: 'FP64', data: scorecard.instances.slice(0, 2).flat() }],
    });
    expect(v2.protocol).toBe('v2');
    expect(v2.body.outputs.find((o) => o.name === 'decision')?.data).toEqual(scorecard.decisions.slice(0, 2));
    const bad = await merlin.predict(target, { instances: [{ income: 'lots' }] }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(MerlinApiError);
    expect(bad).toMatchObject({ status: 400 });

    const logs = await merlin.endpoints.logs(target, { tail: 5 });
    expect(logs.lines.length).toBeGreaterThan(0);
    const history = await merlin.endpoints.deployments(target).all();
    expect(history.map((d) => [d.kind, d.status])).toEqual([['deploy', 'succeeded']]);
  });

  it('splits traffic between versions with a mirror, then undeploys a version out of the split', async () => {
    await merlin.projects.ensure({ name: 'sdk-split' });
    await merlin.models.ensure('sdk-split', { name: 'iris', type: 'onnx' });
    const model = { project: 'sdk-split', model: 'iris' };
    const versions = [];
    for (let i = 0; i < 3; i++) {
      const v = await merlin.logModel(model, { path: IRIS });
      await merlin.deploy(v);
      versions.push(v.version);
    }
    const [a, b, c] = versions as [number, number, number];
    const events: ProgressEvent[] = [];
    const me = await merlin.serveTraffic(
      model,
      { weights: { [a]: 50, [b]: 50 }, mirror: { version: c, percent: 10 } },
      { onProgress: (e) => events.push(e) },
    );
    expect(me.rule).toEqual({
      destinations: [
        { version: a, weight: 50 },
        { version: b, weight: 50 },
      ],
      mirror: { version: c, percent: 10 },
    });
    expect(stepsOf(events).filter((s) => s.startsWith('  '))).toEqual([
      '  Prepare: succeeded',
      '  Apply Route: succeeded',
      '  Finalize: succeeded',
    ]);
    const answered = new Set<number | undefined>();
    for (let i = 0; i < 8; i++) {
      const r = await merlin.predict(model, { instances: iris.instances }, { routeKey: `caller-${i}` });
      answered.add(r.version);
      expect(r.body.predictions.map((p) => (p as { label: number }).label)).toEqual(iris.labels);
    }
    expect([...answered].every((v) => v === a || v === b)).toBe(true);
    const same = await Promise.all(
      [1, 2, 3].map(() => merlin.predict(model, { instances: [iris.instances[0]] }, { routeKey: 'sticky' })),
    );
    expect(new Set(same.map((r) => r.version)).size).toBe(1);

    // the mirror still receives traffic: the platform refuses to undeploy it, with its reason
    const refused = await merlin.undeploy({ ...model, version: c }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(MerlinApiError);
    expect(refused).toMatchObject({ status: 409 });
    await merlin.serveTraffic(model, { weights: { [b]: 100 } });
    const done = await merlin.undeploy({ ...model, version: c });
    expect(done).toMatchObject({ kind: 'undeploy', status: 'succeeded' });
    expect(await merlin.endpoints.get({ ...model, version: c })).toMatchObject({ status: 'terminated' });
    const endpoints = await merlin.modelEndpoints.list(model).all();
    expect(endpoints.map((e) => e.rule)).toEqual([{ destinations: [{ version: b, weight: 100 }] }]);
  });

  it('a model that cannot load: deploy throws the Deployment’s reason, the failed step reported', async () => {
    await merlin.projects.ensure({ name: 'sdk-broken' });
    await merlin.models.ensure('sdk-broken', { name: 'iris', type: 'onnx' });
    const v = await merlin.logModel({ project: 'sdk-broken', model: 'iris' }, { path: BROKEN });
    const events: ProgressEvent[] = [];
    const e = await merlin.deploy(v, { onProgress: (x) => events.push(x) }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DeploymentFailedError);
    const failure = e as DeploymentFailedError;
    expect(failure.step).toBe('Wait Until Ready');
    expect(failure.reason).toMatch(/^model server exited with code 1: model failed to load: onnxruntime: /);
    expect(failure.message).toContain(failure.reason);
    expect(failure.deployment.status).toBe('failed');
    expect(stepsOf(events)).toContain('  Wait Until Ready: failed');
    expect(stepsOf(events).at(-1)).toBe(`Deploy sdk-broken/iris@${v.version} to local: failed`);
    expect(await merlin.endpoints.get(v)).toMatchObject({ status: 'failed' });
  });

  it('an upload interrupted on the way is sent again, and the platform verifies the bytes it got', async () => {
    const bytes = readFileSync(IRIS);
    let puts = 0;
    const interrupting: typeof fetch = async (input, init) => {
      if (init?.method === 'PUT' && !String(input).includes('/v1/') && ++puts === 1) {
        // The first PUT sends 200 bytes of the file, then the connection breaks.
        const source = (init.body as ReadableStream<Uint8Array>).getReader();
        let sent = 0;
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            const { done, value } = await source.read();
            if (done) return controller.close();
            const room = 200 - sent;
            if (room <= 0 || value.byteLength > room) {
              if (room > 0) controller.enqueue(value.subarray(0, room));
              sent = 200;
              controller.error(new Error('connection reset by peer'));
              return;
            }
            sent += value.byteLength;
            controller.enqueue(value);
          },
        });
        return fetch(input, { ...init, body, duplex: 'half' } as RequestInit);
      }
      return checkedFetch(input, init);
    };
    const flaky = createMerlin({ url, fetch: interrupting, retry: { baseDelayMs: 10 } });
    await flaky.projects.ensure({ name: 'sdk-upload' });
    await flaky.models.ensure('sdk-upload', { name: 'iris', type: 'onnx' });
    const events: ProgressEvent[] = [];
    // files from disk are streamed: the PUT body is a stream the wrapper can cut
    const v = await flaky.logModel(
      { project: 'sdk-upload', model: 'iris' },
      { path: IRIS, onProgress: (e) => events.push(e) },
    );
    expect(puts).toBe(2);
    const attempts = events.flatMap((e) => (e.type === 'upload' ? [e.attempt] : []));
    expect(attempts[0]).toBe(0);
    expect(attempts.at(-1)).toBe(1);
    expect(v.artifact).toMatchObject({
      status: 'complete',
      files: [{ path: 'model.onnx', size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }],
    });
    // and the stored model is the whole file: it deploys and predicts
    await flaky.deploy(v);
    const r = await flaky.predict(v, { instances: [iris.instances[0]] });
    expect((r.body.predictions[0] as { label: number }).label).toBe(iris.labels[0]);
    await flaky.undeploy(v);
  });

  it('a path in the browser-safe client is refused with what to use instead', async () => {
    const { Merlin } = await import('../../sdk/index.js');
    const browser = new Merlin({ url });
    await expect(browser.logModel({ project: 'sdk-demo', model: 'iris', version: 1 }, { path: IRIS })).rejects.toThrow(
      MerlinError,
    );
  });
});

/**
 * The real model server (serving/main.ts) on the iris example, spawned by the ProcessCluster with its default
 * command and predicting through the router, compared with scikit-learn's reference outputs.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../../../adapters/local/process-cluster.js';
import { createRouter } from '../../../serving/router.js';
import { listen, revisionSpec, settle } from './helpers.js';

const IRIS_DIR = new URL('../../../examples/iris/', import.meta.url);
const reference = JSON.parse(readFileSync(new URL('reference.json', IRIS_DIR), 'utf8')) as {
  instances: number[][];
  probabilities: number[][];
  labels: number[];
};

describe('ProcessCluster + router with the real model server', () => {
  const cluster = new ProcessCluster({ healthIntervalMs: 20 });
  const route = createRouter(cluster);
  const server = createServer((req, res) => route(req, res, (req.url ?? '/').replace(/^\/serving/, '')));
  let base: string;
  const spec = revisionSpec('iris-1-r1', {}, { artifactUri: IRIS_DIR.href, modelFile: 'model.onnx' });

  beforeAll(async () => {
    base = `http://127.0.0.1:${await listen(server)}/serving/proj/iris`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await cluster.shutdown();
  });

  it('serves the iris model through the version and model endpoints', async () => {
    await cluster.applyRevision(spec);
    expect(await settle(cluster, spec)).toEqual({ state: 'ready' });
    await cluster.routeVersion({ project: 'proj', model: 'iris', version: 1 }, spec);
    await cluster.applyModelRoute({ project: 'proj', model: 'iris' }, { destinations: [{ version: 1, weight: 100 }] });

    const v1 = await fetch(`${base}/versions/1/v1/models/iris:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: reference.instances }),
    });
    expect(v1.status).toBe(200);
    expect(v1.headers.get('x-model-version')).toBe('1');
    const { predictions } = (await v1.json()) as { predictions: { probabilities: number[]; label: number }[] };
    expect(predictions.map((p) => p.label)).toEqual(reference.labels);
    predictions.forEach((p, i) => {
      p.probabilities.forEach((q, j) => {
        expect(Math.abs(q - (reference.probabilities[i]?.[j] ?? Number.NaN))).toBeLessThan(1e-5);
      });
    });

    const v2 = await fetch(`${base}/v2/models/iris/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: reference.instances[0] }],
      }),
    });
    expect(v2.status).toBe(200);
    expect(v2.headers.get('x-model-version')).toBe('1');
    const answer = (await v2.json()) as { model_version: string; outputs: { name: string; data: number[] }[] };
    expect(answer.model_version).toBe('1');
    expect(answer.outputs.find((o) => o.name === 'label')?.data).toEqual([reference.labels[0]]);
  });

  it('reports a model that cannot load with the server last log message', async () => {
    const broken = revisionSpec('iris-1-r2', {}, { number: 2, artifactUri: new URL('broken/', IRIS_DIR).href });
    await cluster.applyRevision(broken);
    const status = await settle(cluster, broken);
    expect(status.state).toBe('failed');
    expect(status.state === 'failed' && status.reason).toMatch(
      /^model server exited with code 1: model failed to load: onnxruntime: /,
    );
  });
});

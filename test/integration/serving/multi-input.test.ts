/** A model with two inputs (FP32, INT64), three outputs (FP32, INT64, BOOL) and external weights, from file://. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectMultiInputPredictions, multiDir } from './multi-input.js';
import { call, killAll, post, type ServerProcess, startServer } from './server-process.js';

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer({ MODEL_NAME: 'multi', MODEL_VERSION: '1', ARTIFACT_URI: `file://${multiDir}` });
});

afterAll(async () => {
  await killAll();
});

describe('Model server: a multi-input model', () => {
  it('should serve both protocols with numpy reference results', async () => {
    await expectMultiInputPredictions(server, 'multi');
  });

  it('should publish every input and output in the metadata', async () => {
    const res = await call(server.url('/v2/models/multi'));
    expect(res.body).toMatchObject({
      inputs: [
        { name: 'x', datatype: 'FP32', shape: [-1, 2] },
        { name: 'k', datatype: 'INT64', shape: [-1] },
      ],
      outputs: [
        { name: 'y', datatype: 'FP32', shape: [-1, 2] },
        { name: 'k2', datatype: 'INT64', shape: [-1] },
        { name: 'flag', datatype: 'BOOL', shape: [-1] },
      ],
    });
  });

  it('should refuse array rows for a multi-input model and an INT64 input that is not an integer', async () => {
    const rows = await post(server.url('/v1/models/multi:predict'), { instances: [[1, 2]] });
    expect(rows.status).toBe(400);
    expect(rows.body).toEqual({
      error: 'the model has 2 inputs (x, k); each of instances must be an object keyed by input name',
    });
    const frac = await post(server.url('/v1/models/multi:predict'), { instances: [{ x: [1, 2], k: 0.5 }] });
    expect(frac.status).toBe(400);
    expect(frac.body).toEqual({
      error:
        "input 'k': instances[0].k is 0.5, expected an integer in [-9223372036854775808, 9223372036854775807] (INT64)",
    });
    const missing = await post(server.url('/v2/models/multi/infer'), {
      inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2] }],
    });
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({ error: "missing input 'k' (the model's inputs are: x, k)" });
  });
});

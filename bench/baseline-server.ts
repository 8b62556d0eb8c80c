/**
 * The benchmark's baseline (DESIGN §8): the least a bare `node:http` + onnxruntime server must do to answer the same
 * KServe V1 request as the model server — read the body, parse `{"instances": [[...], ...]}`, build one FP32 tensor,
 * run the same session with the same options, answer `{"predictions", "model_name", "model_version"}` — and nothing
 * else (no validation beyond what keeps it answering, no metrics, no routing).
 *
 *   MODEL_PATH=bench/fixtures/mlp/model.onnx PORT=0 node --import tsx bench/baseline-server.ts
 *
 * With an IPC channel it reports `{type: 'listening', port}` and `{type: 'ready'}` like the model server.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as ort from 'onnxruntime-node';

// The same session options as the model server's onnx runtime (ORT_INTRA_OP_NUM_THREADS likewise).
const options: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], logSeverityLevel: 4 };
if (process.env.ORT_INTRA_OP_NUM_THREADS) options.intraOpNumThreads = Number(process.env.ORT_INTRA_OP_NUM_THREADS);
const session = await ort.InferenceSession.create(process.env.MODEL_PATH ?? 'bench/fixtures/mlp/model.onnx', options);
const inputName = session.inputNames[0] as string;
const outputName = session.outputNames[0] as string;
const width = session.inputMetadata[0]?.isTensor ? Number(session.inputMetadata[0].shape[1]) : 0;

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', async () => {
    try {
      const { instances } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { instances: number[][] };
      const data = new Float32Array(instances.length * width);
      for (let i = 0; i < instances.length; i++) data.set(instances[i] as number[], i * width);
      const result = await session.run({ [inputName]: new ort.Tensor('float32', data, [instances.length, width]) });
      const out = result[outputName] as ort.Tensor;
      const values = out.data as Float32Array;
      const cols = Number(out.dims[1]);
      const predictions = new Array(instances.length);
      for (let i = 0; i < instances.length; i++) predictions[i] = Array.from(values.subarray(i * cols, (i + 1) * cols));
      const body = JSON.stringify({ predictions, model_name: 'mlp', model_version: '1' });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    } catch (err) {
      const body = JSON.stringify({ error: (err as Error).message });
      res.writeHead(400, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    }
  });
});

server.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.send?.({ type: 'listening', port });
  process.send?.({ type: 'ready' });
  if (!process.send) console.log(`baseline listening on ${port}`);
});
process.channel?.unref();
process.once('disconnect', () => process.exit(0));
process.once('SIGTERM', () => process.exit(0));

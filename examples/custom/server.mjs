// A custom model server: a linear regression (tip = intercept + Σ coefficient × feature) whose weights are read
// from weights.json in the working directory, served over both KServe V1 and the Open Inference Protocol V2 with
// nothing but node:http. The platform starts it with PORT, HOST, MODEL_NAME and MODEL_VERSION set (see README.md).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '0.0.0.0';
const name = process.env.MODEL_NAME ?? 'tips';
const version = process.env.MODEL_VERSION ?? '1';

/** @type {{ features: string[], coefficients: number[], intercept: number }} */
const weights = JSON.parse(readFileSync('weights.json', 'utf8'));
const width = weights.features.length;
if (weights.coefficients.length !== width) {
  throw new Error(`weights.json: ${width} features but ${weights.coefficients.length} coefficients`);
}

class BadRequest extends Error {}

const predictRow = (row) => weights.coefficients.reduce((sum, c, i) => sum + c * row[i], weights.intercept);

/** A row as numbers in feature order, from `[bill, size]` or `{"total_bill": …, "size": …}`. */
function toRow(instance, i) {
  const row = Array.isArray(instance)
    ? instance
    : instance !== null && typeof instance === 'object'
      ? weights.features.map((f) => instance[f])
      : undefined;
  if (!row || row.length !== width || !row.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new BadRequest(
      `instance ${i} must be ${width} numbers [${weights.features.join(', ')}] or an object with those keys`,
    );
  }
  return row;
}

function v1Predict(body) {
  const instances = body.instances ?? body.inputs;
  if (!Array.isArray(instances) || instances.length === 0) throw new BadRequest('expected a non-empty "instances"');
  return { predictions: instances.map((x, i) => predictRow(toRow(x, i))) };
}

function v2Infer(body) {
  const input = Array.isArray(body.inputs) ? body.inputs.find((i) => i.name === 'input') : undefined;
  if (!input) throw new BadRequest(`expected an input named "input" (FP32 or FP64, shape [N, ${width}])`);
  const [rows, cols] = input.shape ?? [];
  const data = (input.data ?? []).flat(Number.POSITIVE_INFINITY);
  if (!['FP32', 'FP64'].includes(input.datatype) || input.shape.length !== 2 || cols !== width) {
    throw new BadRequest(`input "input" must be FP32 or FP64 with shape [N, ${width}]`);
  }
  if (data.length !== rows * cols) {
    throw new BadRequest(`input "input" has ${data.length} values for shape [${rows}, ${cols}]`);
  }
  const out = [];
  for (let r = 0; r < rows; r++) out.push(predictRow(toRow(data.slice(r * cols, (r + 1) * cols), r)));
  return {
    model_name: name,
    model_version: version,
    ...(body.id !== undefined && { id: body.id }),
    outputs: [{ name: 'tip', datatype: 'FP64', shape: [rows], data: out }],
  };
}

const metadata = {
  name,
  versions: [version],
  platform: 'custom_linear',
  inputs: [{ name: 'input', datatype: 'FP64', shape: [-1, width] }],
  outputs: [{ name: 'tip', datatype: 'FP64', shape: [-1] }],
};

function send(res, status, payload) {
  const text = payload === undefined ? '' : JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** `/v2/models/{name}[/versions/{version}]` + rest, or undefined when it names another model or version. */
function v2Model(path) {
  const m = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/ready|\/infer)?$/.exec(path);
  if (!m || decodeURIComponent(m[1]) !== name || (m[2] !== undefined && m[2] !== version)) return undefined;
  return m[3] ?? '';
}

function route(req, body) {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  const get = req.method === 'GET' || req.method === 'HEAD';
  if (get && path === '/') return [200, { status: 'alive' }];
  if (get && (path === '/v2/health/live' || path === '/v2/health/ready')) return [200, undefined];
  if (get && path === '/v2') return [200, { name: 'tips-server', version: '1.0.0', extensions: [] }];
  if (get && path === '/v1/models') return [200, { models: [name] }];
  if (get && path === `/v1/models/${name}`) return [200, { name, ready: true }];
  if (req.method === 'POST' && path === `/v1/models/${name}:predict`) return [200, v1Predict(JSON.parse(body))];
  const rest = path.startsWith('/v2/models/') ? v2Model(path) : undefined;
  if (get && rest === '') return [200, metadata];
  if (get && rest === '/ready') return [200, undefined];
  if (req.method === 'POST' && rest === '/infer') return [200, v2Infer(JSON.parse(body))];
  return [404, { error: `no route for ${req.method} ${path}` }];
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    try {
      const [status, payload] = route(req, Buffer.concat(chunks).toString('utf8'));
      send(res, status, payload);
    } catch (err) {
      const bad = err instanceof BadRequest || err instanceof SyntaxError;
      if (!bad) console.error(`inference failed: ${err.stack ?? err}`);
      send(res, bad ? 400 : 500, { error: err.message });
    }
  });
});

process.on('SIGTERM', () => {
  console.log('stopping');
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});

server.listen(port, host, () => {
  console.log(`tips model (${width} features: ${weights.features.join(', ')}) listening on ${host}:${port}`);
});

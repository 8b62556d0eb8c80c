/**
 * `npm run demo`: the whole flow against a running platform (default http://127.0.0.1:8080, or MERLIN_URL):
 * project → model → version → upload the iris ONNX model → deploy → route the model endpoint to it → predict, and
 * compare the predictions with scikit-learn's reference outputs. Re-runnable: each run deploys a new version,
 * moves traffic to it and undeploys the versions that no longer receive traffic.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

const BASE = (process.env.MERLIN_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
const PROJECT = process.env.DEMO_PROJECT ?? 'demo';
const MODEL = process.env.DEMO_MODEL ?? 'iris';
const MODEL_FILE = new URL('./iris/model.onnx', import.meta.url);
const reference = JSON.parse(readFileSync(new URL('./iris/reference.json', import.meta.url), 'utf8')) as {
  instances: number[][];
  probabilities: number[][];
  labels: number[];
};

interface Deployment {
  id: string;
  status: string;
  error?: { code: string; message: string };
  steps: { name: string; status: string; startedAt?: string; endedAt?: string }[];
}

const say = (line: string) => console.log(line);

async function call<T>(method: string, path: string, body?: unknown, okStatuses = [200, 201, 202]): Promise<T> {
  const res = await fetch(`${BASE}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  const json = text ? JSON.parse(text) : undefined;
  if (!okStatuses.includes(res.status)) {
    throw new Error(`${method} ${path} → ${res.status}: ${json?.error?.message ?? text}`);
  }
  return json as T;
}

/** Polls a deployment, printing each step as it finishes, until it succeeds (or throws with its reason). */
async function follow(id: string): Promise<Deployment> {
  const printed = new Set<string>();
  for (;;) {
    const d = await call<Deployment>('GET', `/v1/deployments/${id}`);
    for (const s of d.steps) {
      if (printed.has(s.name) || !['succeeded', 'failed', 'skipped'].includes(s.status)) continue;
      printed.add(s.name);
      const ms = s.startedAt && s.endedAt ? ` (${Date.parse(s.endedAt) - Date.parse(s.startedAt)} ms)` : '';
      say(`    ${s.status === 'succeeded' ? '✓' : s.status === 'failed' ? '✗' : '-'} ${s.name}${ms}`);
    }
    if (d.status === 'succeeded') return d;
    if (d.status === 'failed') throw new Error(`deployment ${id} failed: ${d.error?.message}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function main(): Promise<void> {
  const envs = await call<{ items: { name: string; isDefault: boolean; servingUrl: string }[] }>(
    'GET',
    '/v1/environments',
  );
  const env = envs.items.find((e) => e.isDefault) ?? envs.items[0]!;
  say(`Platform ${BASE}, environment "${env.name}"`);

  await call('POST', '/v1/projects', { name: PROJECT, description: 'Merlin Serverless walkthrough' }, [201, 409]);
  await call('POST', `/v1/projects/${PROJECT}/models`, { name: MODEL, type: 'onnx' }, [201, 409]);
  const version = await call<{ version: number }>('POST', `/v1/projects/${PROJECT}/models/${MODEL}/versions`, {
    labels: { dataset: 'iris', framework: 'sklearn' },
    params: { max_iter: 1000 },
    metrics: { train_accuracy: 0.973 },
  });
  const v = version.version;
  const versionPath = `/v1/projects/${PROJECT}/models/${MODEL}/versions/${v}`;
  say(`1. created ${PROJECT}/${MODEL} version ${v}`);

  const bytes = readFileSync(MODEL_FILE);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const upload = await call<{ uploads: { url: string; headers: Record<string, string> }[] }>(
    'POST',
    `${versionPath}/artifact:upload`,
    { files: [{ path: 'model.onnx', size: bytes.length }] },
  );
  const put = await fetch(upload.uploads[0]!.url, { method: 'PUT', body: bytes, headers: upload.uploads[0]!.headers });
  if (!put.ok) throw new Error(`upload failed: ${put.status} ${await put.text()}`);
  await call('POST', `${versionPath}/artifact:complete`, {
    files: [{ path: 'model.onnx', size: bytes.length, sha256 }],
  });
  say(`2. uploaded model.onnx (${bytes.length} bytes, sha256 ${sha256.slice(0, 12)}…) and verified it`);

  const started = Date.now();
  const deploy = await call<Deployment>('POST', `${versionPath}/endpoints`, { environment: env.name });
  say(`3. deploying (deployment ${deploy.id})`);
  await follow(deploy.id);
  const endpoint = await call<{ url: string }>('GET', `${versionPath}/endpoints/${env.name}`);
  say(`   version endpoint ${endpoint.url} is running (${Date.now() - started} ms)`);

  const route = await call<Deployment>('PUT', `/v1/projects/${PROJECT}/models/${MODEL}/endpoints/${env.name}`, {
    rule: { destinations: [{ version: v, weight: 100 }] },
  });
  await follow(route.id);
  const me = await call<{ url: string }>('GET', `/v1/projects/${PROJECT}/models/${MODEL}/endpoints/${env.name}`);
  say(`4. model endpoint ${me.url} now sends 100% of traffic to version ${v}`);

  const res = await fetch(`${me.url}/v1/models/${MODEL}:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ instances: reference.instances }),
  });
  const out = (await res.json()) as { predictions: { probabilities: number[]; label: number }[]; error?: string };
  if (!res.ok) throw new Error(`predict failed: ${res.status} ${out.error}`);
  say(`5. predictions through the model endpoint (answered by version ${res.headers.get('x-model-version')}):`);
  let worst = 0;
  out.predictions.forEach((p, i) => {
    const ref = reference.probabilities[i]!;
    const diff = Math.max(...p.probabilities.map((x, j) => Math.abs(x - ref[j]!)));
    worst = Math.max(worst, diff);
    if (p.label !== reference.labels[i]) worst = Number.POSITIVE_INFINITY;
    say(
      `   ${JSON.stringify(reference.instances[i])} → label ${p.label}, p=[${p.probabilities.map((x) => x.toFixed(6)).join(', ')}]`,
    );
  });
  say(`   largest difference from scikit-learn's reference: ${worst.toExponential(2)} (tolerance 1e-5)`);

  const endpoints = await call<{ items: { version: number; status: string }[] }>(
    'GET',
    `/v1/projects/${PROJECT}/models/${MODEL}/versions?limit=100`,
  );
  for (const old of endpoints.items.filter((x) => x.version !== v)) {
    const path = `/v1/projects/${PROJECT}/models/${MODEL}/versions/${old.version}/endpoints/${env.name}`;
    const e = await call<{ status?: string }>('GET', path, undefined, [200, 404]);
    if (e.status === 'running') {
      const d = await call<Deployment>('DELETE', path);
      await follow(d.id);
      say(`6. undeployed version ${old.version}, which no longer receives traffic`);
    }
  }
  if (!(worst <= 1e-5)) {
    console.error('FAILED: predictions differ from the reference');
    process.exit(1);
  }
  say('Done.');
}

main().catch((e) => {
  console.error(`walkthrough failed: ${(e as Error).message}`);
  process.exit(1);
});

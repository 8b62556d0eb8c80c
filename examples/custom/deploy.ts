/**
 * `npx tsx examples/custom/deploy.ts`: deploys this directory as a `custom` model on a running platform (default
 * http://127.0.0.1:8080, or MERLIN_URL) and predicts through it: project → model (type custom) → version naming the
 * command → upload server.mjs and weights.json → deploy → route the model endpoint → predict over V1 and V2 →
 * undeploy the versions that no longer receive traffic. Re-runnable: each run deploys a new version.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

const BASE = (process.env.MERLIN_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
const PROJECT = process.env.DEMO_PROJECT ?? 'demo';
const MODEL = process.env.DEMO_MODEL ?? 'tips';
const FILES = ['server.mjs', 'weights.json'];

interface Deployment {
  id: string;
  status: string;
  error?: { message: string };
}

async function call<T>(method: string, path: string, body?: unknown, ok = [200, 201, 202]): Promise<T> {
  const res = await fetch(`${BASE}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  const json = text ? JSON.parse(text) : undefined;
  if (!ok.includes(res.status)) throw new Error(`${method} ${path} → ${res.status}: ${json?.error?.message ?? text}`);
  return json as T;
}

async function follow(id: string): Promise<void> {
  for (;;) {
    const d = await call<Deployment>('GET', `/v1/deployments/${id}`);
    if (d.status === 'succeeded') return;
    if (d.status === 'failed') throw new Error(`deployment ${id} failed: ${d.error?.message}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<void> {
  const envs = await call<{ items: { name: string; isDefault: boolean }[] }>('GET', '/v1/environments');
  const env = (envs.items.find((e) => e.isDefault) ?? envs.items[0])?.name ?? 'local';

  await call('POST', '/v1/projects', { name: PROJECT }, [201, 409]);
  await call('POST', `/v1/projects/${PROJECT}/models`, { name: MODEL, type: 'custom' }, [201, 409]);
  const { version: v } = await call<{ version: number }>('POST', `/v1/projects/${PROJECT}/models/${MODEL}/versions`, {
    labels: { example: 'custom' },
    custom: { command: ['node', 'server.mjs'], protocol: 'v2' },
  });
  const versionPath = `/v1/projects/${PROJECT}/models/${MODEL}/versions/${v}`;
  console.log(`1. created ${PROJECT}/${MODEL} version ${v} (custom: node server.mjs, V2)`);

  const files = FILES.map((path) => {
    const bytes = readFileSync(new URL(path, import.meta.url));
    return { path, bytes, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
  });
  const { uploads } = await call<{ uploads: { path: string; url: string; headers: Record<string, string> }[] }>(
    'POST',
    `${versionPath}/artifact:upload`,
    { files: files.map(({ path, size }) => ({ path, size })) },
  );
  for (const upload of uploads) {
    const file = files.find((f) => f.path === upload.path);
    const put = await fetch(upload.url, { method: 'PUT', body: file?.bytes, headers: upload.headers });
    if (!put.ok) throw new Error(`upload of ${upload.path} failed: ${put.status} ${await put.text()}`);
  }
  await call('POST', `${versionPath}/artifact:complete`, {
    files: files.map(({ path, size, sha256 }) => ({ path, size, sha256 })),
  });
  console.log(`2. uploaded ${FILES.join(' and ')}`);

  await follow((await call<Deployment>('POST', `${versionPath}/endpoints`, { environment: env })).id);
  await follow(
    (
      await call<Deployment>('PUT', `/v1/projects/${PROJECT}/models/${MODEL}/endpoints/${env}`, {
        rule: { destinations: [{ version: v, weight: 100 }] },
      })
    ).id,
  );
  const { url } = await call<{ url: string }>('GET', `/v1/projects/${PROJECT}/models/${MODEL}/endpoints/${env}`);
  console.log(`3. deployed; the model endpoint ${url} sends all traffic to version ${v}`);

  const v1 = await fetch(`${url}/v1/models/${MODEL}:predict`, {
    method: 'POST',
    body: JSON.stringify({ instances: [[24.5, 2], { total_bill: 50, size: 4 }] }),
  });
  console.log(`4. V1 predict → ${v1.status} (version ${v1.headers.get('x-model-version')}): ${await v1.text()}`);
  const v2 = await fetch(`${url}/v2/models/${MODEL}/infer`, {
    method: 'POST',
    body: JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP64', shape: [1, 2], data: [24.5, 2] }] }),
  });
  console.log(`   V2 infer   → ${v2.status}: ${await v2.text()}`);

  const versions = await call<{ items: { version: number }[] }>(
    'GET',
    `/v1/projects/${PROJECT}/models/${MODEL}/versions?limit=100`,
  );
  for (const old of versions.items.filter((x) => x.version !== v)) {
    const path = `/v1/projects/${PROJECT}/models/${MODEL}/versions/${old.version}/endpoints/${env}`;
    const e = await call<{ status?: string }>('GET', path, undefined, [200, 404]);
    if (e.status !== 'running') continue;
    await follow((await call<Deployment>('DELETE', path)).id);
    console.log(`5. undeployed version ${old.version}, which no longer receives traffic`);
  }
  if (!v1.ok || !v2.ok) process.exit(1);
}

main().catch((e) => {
  console.error(`deploy failed: ${(e as Error).message}`);
  process.exit(1);
});

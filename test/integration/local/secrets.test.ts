/**
 * Secrets on the embedded platform, end to end over HTTP: a secret PUT through the API reaches the model server
 * process as an environment variable (read from /proc), is stored only encrypted (the whole DynamoDB table is
 * scanned for the plaintext), never appears in the Deployment, the endpoint or the model server's logs, and comes
 * back after a restart (the key file under the data dir is reused).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revisionIdentity } from '../../../core/names.js';
import type { VersionKey } from '../../../core/ports.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../../local/emulators.js';
import { TABLE_NAME } from '../../../local/platform.js';
import { http } from '../../helpers/http.js';
import { IRIS, startTestPlatform, versionWithArtifact } from '../../helpers/platform.js';

const TOKEN = `tok-${process.pid}-3f9a1c-never-in-clear`;
const PROJECT = 'sec-e2e';

/** The environment of every live child of this process, by pid (Linux /proc). */
function childEnvironments(): Map<number, Record<string, string>> {
  const out = new Map<number, Record<string, string>>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      const vars = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').filter(Boolean);
      out.set(
        Number(entry),
        Object.fromEntries(vars.map((v) => [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)])),
      );
    } catch {
      // gone in between, or not ours to read
    }
  }
  return out;
}

const modelServerOf = (version: number) =>
  [...childEnvironments().values()].find((env) => env.MODEL_NAME === 'iris' && env.MODEL_VERSION === String(version));

async function waitForDeployment(api: string, id: string) {
  for (let i = 0; i < 600; i++) {
    const d = await http('GET', `${api}/deployments/${id}`);
    if (d.body.status === 'succeeded' || d.body.status === 'failed') return d.body;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`deployment ${id} did not finish`);
}

async function scanTable(endpoint: string): Promise<string> {
  const db = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    const items: unknown[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await db.send(new ScanCommand({ TableName: TABLE_NAME, ExclusiveStartKey: start as never }));
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return JSON.stringify(items);
  } finally {
    db.destroy();
  }
}

describe('Local platform: project secrets reach the model server, and only it', () => {
  let started: Awaited<ReturnType<typeof startTestPlatform>>;
  let api: string;
  let version: VersionKey;
  let deploymentId: string;

  beforeAll(async () => {
    started = await startTestPlatform();
    api = started.platform.apiUrl;
    version = await versionWithArtifact(started.deps(), { project: PROJECT, model: 'iris' }, IRIS);
  });
  afterAll(() => started.stop());

  it('should store the secret (201) and answer metadata only', async () => {
    const put = await http('PUT', `${api}/projects/${PROJECT}/secrets/api-token`, { value: TOKEN });
    const get = await http('GET', `${api}/projects/${PROJECT}/secrets/api-token`);
    const list = await http('GET', `${api}/projects/${PROJECT}/secrets`);

    expect(put.status).toBe(201);
    expect(get.status).toBe(200);
    expect(get.body).toMatchObject({ project: PROJECT, name: 'api-token', revision: 1 });
    expect(list.body.items.map((s: { name: string }) => s.name)).toEqual(['api-token']);
    for (const reply of [put, get, list]) expect(JSON.stringify(reply.body)).not.toContain(TOKEN);
    const key = statSync(join(started.dataDir, 'secrets.key'));
    expect(key.mode & 0o777).toBe(0o600);
  });

  it('should deploy the iris example with the secret mapped to API_TOKEN, which the model server gets', async () => {
    const deploy = await http('POST', `${api}/projects/${PROJECT}/models/iris/versions/${version.version}/endpoints`, {
      secrets: { API_TOKEN: 'api-token' },
    });
    expect(deploy.status).toBe(202);
    deploymentId = deploy.body.id;

    const done = await waitForDeployment(api, deploymentId);

    expect(done).toMatchObject({ status: 'succeeded', request: { secrets: { API_TOKEN: 'api-token' } } });
    const env = modelServerOf(version.version);
    expect(env, 'a model server child with MODEL_NAME=iris and its MODEL_VERSION').toBeDefined();
    expect(env?.API_TOKEN).toBe(TOKEN);
    const predict = await http(
      'POST',
      `${started.platform.servingUrls.local}/${PROJECT}/iris/versions/${version.version}/v1/models/iris:predict`,
      {
        instances: [[5.1, 3.5, 1.4, 0.2]],
      },
    );
    expect(predict.status).toBe(200);
  });

  it('should keep the value out of DynamoDB, the Deployment, the endpoint and the model server logs', async () => {
    const table = await scanTable(process.env.AWS_ENDPOINT_URL_DYNAMODB!);
    const deployment = await http('GET', `${api}/deployments/${deploymentId}`);
    const endpoint = await http(
      'GET',
      `${api}/projects/${PROJECT}/models/iris/versions/${version.version}/endpoints/local`,
    );
    const cluster = started.platform.clusters.get('local')!;
    const revision = revisionIdentity(version, endpoint.body.activeRevision.number);
    const logs = await cluster.revisionLogs(revision, { tail: 1000 });

    expect(table).toContain('S#api-token');
    expect(table).not.toContain(TOKEN);
    expect(JSON.stringify(deployment.body)).not.toContain(TOKEN);
    expect(endpoint.body).toMatchObject({ status: 'running', secrets: { API_TOKEN: 'api-token' } });
    expect(JSON.stringify(endpoint.body)).not.toContain(TOKEN);
    expect(logs.join('\n')).not.toContain(TOKEN);
  });

  it('should refuse to delete the secret while the endpoint runs (409), naming the endpoint', async () => {
    const res = await http('DELETE', `${api}/projects/${PROJECT}/secrets/api-token`);

    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('SECRET_IN_USE');
    expect(res.body.error.message).toContain(`${PROJECT}/iris version ${version.version} in environment "local"`);
  });

  it('should give the restarted model server the secret again after a platform restart', async () => {
    await started.platform.stop();
    const restarted = await startTestPlatform({ dataDir: started.dataDir });
    started = restarted;
    api = restarted.platform.apiUrl;

    expect(restarted.platform.recovery.local).toMatchObject({
      restored: [`${PROJECT}/iris@${version.version}`],
      failed: [],
    });
    expect(modelServerOf(version.version)?.API_TOKEN).toBe(TOKEN);
  });

  it('should answer 404 for an unknown secret and 204 for a delete once the endpoint is undeployed', async () => {
    const missing = await http('GET', `${api}/projects/${PROJECT}/secrets/nope`);
    const undeploy = await http(
      'DELETE',
      `${api}/projects/${PROJECT}/models/iris/versions/${version.version}/endpoints/local`,
    );
    await waitForDeployment(api, undeploy.body.id);

    const deleted = await http('DELETE', `${api}/projects/${PROJECT}/secrets/api-token`);

    expect(missing.status).toBe(404);
    expect(deleted.status).toBe(204);
    expect((await http('GET', `${api}/projects/${PROJECT}/secrets/api-token`)).status).toBe(404);
  });
});

/**
 * The complete control-plane API over HTTP on the local platform (issue 3): PATCH/DELETE with If-Match, Idempotency-Key,
 * label filters, redeploy without downtime, logs, model endpoint DELETE, resource limits, the OpenAPI document. Every
 * answer is validated against that document (enableContract).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http } from '../helpers/http.js';
import { enableContract } from '../helpers/openapi-contract.js';
import { answeredBy, ModelApi, predictV1, untilDeployment } from '../helpers/serving-e2e.js';
import { eventually, freePort, type RunningPlatform, spawnPlatform } from '../helpers/spawn-platform.js';

describe('e2e: the complete API', () => {
  let dataDir: string;
  let p: RunningPlatform;
  let api: string;
  let iris: ModelApi;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'merlin-e2e-api-'));
    p = await spawnPlatform({
      port: await freePort(),
      dataDir,
      environments: [
        {
          name: 'local',
          isDefault: true,
          cluster: { kind: 'local' },
          limits: { maxCpu: '2', maxMemory: '4Gi', maxReplicas: 4 },
        },
      ],
    });
    api = `${p.url}/v1`;
    await enableContract(p.url);
    iris = new ModelApi(api, 'api-e2e', 'iris');
    await iris.create();
  });
  afterAll(async () => {
    await p?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves a valid OpenAPI 3.1 document describing every route', async () => {
    const doc = await http('GET', `${api}/openapi.json`);
    expect(doc.status).toBe(200);
    expect((await new Validator().validate(doc.body)).valid).toBe(true);
    expect(Object.keys(doc.body.paths)).toContain(
      '/v1/projects/{project}/models/{model}/versions/{version}/endpoints/{environment}/logs',
    );
  });

  it('PATCHes with If-Match: the current ETag wins, a stale one is 412', async () => {
    const got = await http('GET', `${api}/projects/api-e2e`);
    const etag = got.headers.get('etag')!;
    const ok = await http('PATCH', `${api}/projects/api-e2e`, { description: 'e2e' }, { 'if-match': etag });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('etag')).not.toBe(etag);
    const stale = await http('PATCH', `${api}/projects/api-e2e`, { description: 'lost update' }, { 'if-match': etag });
    expect(stale.status).toBe(412);
    expect((await http('GET', `${api}/projects/api-e2e`)).body.description).toBe('e2e');
    const type = await http('PATCH', `${api}/projects/api-e2e/models/iris`, { type: 'xgboost' });
    expect(type.status).toBe(400);
    expect(type.body.error.message).toContain('the type of a model cannot change');
  });

  it('honours Idempotency-Key: a retried POST creates one version; the key with another body is 422', async () => {
    const headers = { 'idempotency-key': 'e2e-version-1' };
    const a = await http('POST', iris.versionsUrl, { labels: { team: 'fraud' } }, headers);
    const b = await http('POST', iris.versionsUrl, { labels: { team: 'fraud' } }, headers);
    expect(a.status).toBe(201);
    expect(b.body.version).toBe(a.body.version);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    const c = await http('POST', iris.versionsUrl, { labels: { team: 'risk' } }, headers);
    expect(c.status).toBe(422);
    expect(c.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('filters versions by label, newest first', async () => {
    await http('POST', iris.versionsUrl, { labels: { team: 'risk' } });
    await http('POST', iris.versionsUrl, { labels: { team: 'fraud', stage: 'prod' } });
    const fraud = await http('GET', `${iris.versionsUrl}?label=team:fraud`);
    expect(fraud.body.items.map((v: { labels: { team: string } }) => v.labels.team)).toEqual(['fraud', 'fraud']);
    expect(fraud.body.items[0].version).toBeGreaterThan(fraud.body.items[1].version);
    const both = await http('GET', `${iris.versionsUrl}?label=team:fraud,stage:prod`);
    expect(both.body.items).toHaveLength(1);
    expect((await http('GET', `${iris.versionsUrl}?label=oops`)).status).toBe(400);
  });

  it('refuses resources over the environment limits with 422 naming the limit, before anything starts', async () => {
    const v = await iris.irisVersion();
    const r = await http('POST', `${iris.versionsUrl}/${v}/endpoints`, { resources: { cpu: '2500m' } });
    expect(r.status).toBe(422);
    expect(r.body.error.message).toBe(
      'resources.cpu "2500m" is more than environment "local" allows (limits.maxCpu: "2")',
    );
    expect((await http('GET', `${iris.versionsUrl}/${v}/endpoints/local`)).status).toBe(404);
  });

  it('redeploys (PATCH) to a new revision while the old one keeps answering, then shows the server logs', async () => {
    const v = await iris.irisVersion();
    await iris.deploy(v);
    await iris.route({ destinations: [{ version: v, weight: 100 }] });
    let stop = false;
    const answers: number[] = [];
    const load = (async () => {
      while (!stop) answers.push((await predictV1(`${p.url}/serving/api-e2e/iris/v1/models/iris:predict`)).status);
    })();
    const redeploy = await http('PATCH', `${iris.versionsUrl}/${v}/endpoints/local`, { resources: { memory: '1Gi' } });
    expect(redeploy.status).toBe(202);
    expect(redeploy.body.targetRevision.name).toBe(`iris-${v}-r2`);
    expect((await untilDeployment(api, redeploy.body.id)).status).toBe('succeeded');
    await eventually(
      async () => answers.length,
      (n) => n > 20,
    );
    stop = true;
    await load;
    expect(answers.every((s) => s === 200)).toBe(true);
    const e = await http('GET', `${iris.versionsUrl}/${v}/endpoints/local`);
    expect(e.body).toMatchObject({ status: 'serving', activeRevision: { number: 2 }, resources: { memory: '1Gi' } });

    const logs = await http('GET', `${iris.versionsUrl}/${v}/endpoints/local/logs?tail=50`);
    expect(logs.status).toBe(200);
    expect(logs.body.revision).toBe(`iris-${v}-r2`);
    expect(logs.body.lines.some((l: string) => l.includes('"msg":"ready"'))).toBe(true);
    expect(
      (await http('GET', `${iris.versionsUrl}/${v}/endpoints/local/logs?since=1d`)).body.lines.length,
    ).toBeGreaterThan(0);
    expect((await http('GET', `${iris.versionsUrl}/${v}/endpoints/local/logs?since=soon`)).status).toBe(400);
  });

  it('takes the model endpoint down with DELETE; its versions keep running; then deletes the model', async () => {
    const me = await http('GET', iris.modelEndpointUrl);
    const v = me.body.rule.destinations[0].version;
    const refused = await http('DELETE', `${api}/projects/api-e2e/models/iris`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain(`api-e2e/iris version ${v} in "local" (running)`);

    const down = await http('DELETE', iris.modelEndpointUrl);
    expect(down.status).toBe(202);
    expect((await untilDeployment(api, down.body.id)).status).toBe('succeeded');
    expect((await http('GET', iris.modelEndpointUrl)).body).toMatchObject({ status: 'terminated', rule: null });
    expect((await predictV1(`${p.url}/serving/api-e2e/iris/v1/models/iris:predict`)).status).toBe(404);
    const direct = await predictV1(`${p.url}/serving/api-e2e/iris/versions/${v}/v1/models/iris:predict`);
    expect(direct.status).toBe(200);
    expect(answeredBy(direct)).toBe(v);
    expect((await http('GET', `${iris.versionsUrl}/${v}/endpoints/local`)).body.status).toBe('running');

    const undeploy = await http('DELETE', `${iris.versionsUrl}/${v}/endpoints/local`);
    expect((await untilDeployment(api, undeploy.body.id)).status).toBe('succeeded');
    const deleted = await http('DELETE', `${api}/projects/api-e2e/models/iris`);
    expect(deleted.status).toBe(204);
    expect((await http('GET', `${api}/projects/api-e2e/models/iris`)).status).toBe(404);
    expect((await http('GET', `${api}/projects/api-e2e/models`)).body.items).toEqual([]);
    expect((await http('DELETE', `${api}/projects/api-e2e`)).status).toBe(204);
    expect((await http('GET', `${api}/projects/api-e2e`)).status).toBe(404);
  });
});

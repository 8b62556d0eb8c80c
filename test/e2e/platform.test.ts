/**
 * The local platform started as a user starts it, driven over HTTP only: the full flow from an ONNX file to
 * predictions through the model endpoint, precise 4xx answers for bad input, a restart that brings serving back,
 * shutdown without orphans, a crashed model server reported as failed.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http } from '../helpers/http.js';
import { enableContract } from '../helpers/openapi-contract.js';
import {
  alive,
  eventually,
  freePort,
  modelServerPids,
  type RunningPlatform,
  spawnPlatform,
} from '../helpers/spawn-platform.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const MODEL = readFileSync(join(ROOT, 'examples/iris/model.onnx'));
const SHA = createHash('sha256').update(MODEL).digest('hex');
const reference = JSON.parse(readFileSync(join(ROOT, 'examples/iris/reference.json'), 'utf8')) as {
  instances: number[][];
  probabilities: number[][];
  labels: number[];
};

describe('e2e: the local platform over HTTP', () => {
  let dataDir: string;
  let port: number;
  let p: RunningPlatform;
  let api: string;
  const V = '/projects/e2e/models/iris/versions';

  const untilDeployment = (id: string) =>
    eventually(
      () => http('GET', `${api}/deployments/${id}`),
      (r) => ['succeeded', 'failed'].includes(r.body.status),
    );

  /** A version of e2e/iris with the example model uploaded through presigned URLs and verified. */
  async function uploadedVersion(bytes: Buffer = MODEL): Promise<number> {
    const v = await http('POST', `${api}${V}`, { labels: { team: 'e2e' } });
    expect(v.status).toBe(201);
    const up = await http('POST', `${api}${V}/${v.body.version}/artifact:upload`, { files: [{ path: 'model.onnx' }] });
    expect(up.status).toBe(200);
    const put = await fetch(up.body.uploads[0].url, {
      method: 'PUT',
      body: bytes,
      headers: up.body.uploads[0].headers,
    });
    expect(put.status).toBe(200);
    const sha = createHash('sha256').update(bytes).digest('hex');
    const done = await http('POST', `${api}${V}/${v.body.version}/artifact:complete`, {
      files: [{ path: 'model.onnx', size: bytes.length, sha256: sha }],
    });
    expect(done.status).toBe(200);
    return v.body.version;
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'merlin-e2e-'));
    port = await freePort();
    p = await spawnPlatform({ port, dataDir });
    api = `${p.url}/v1`;
    await enableContract(p.url);
    expect(p.output()).toContain(`API:      ${p.url}/v1`);
    expect(p.output()).toContain(`Serving:  ${p.url}/serving`);
  });
  afterAll(async () => {
    if (p && p.child.exitCode === null) await p.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('goes from an ONNX file to predictions through the model endpoint, matching scikit-learn to 1e-5', async () => {
    expect((await http('GET', `${api}/environments`)).body.items.map((e: { name: string }) => e.name)).toEqual([
      'local',
    ]);
    expect((await http('POST', `${api}/projects`, { name: 'e2e' })).status).toBe(201);
    expect((await http('POST', `${api}/projects/e2e/models`, { name: 'iris', type: 'onnx' })).status).toBe(201);
    const version = await uploadedVersion();

    const deploy = await http('POST', `${api}${V}/${version}/endpoints`, {});
    expect(deploy.status).toBe(202);
    expect(deploy.headers.get('location')).toBe(`/v1/deployments/${deploy.body.id}`);
    const deployed = await untilDeployment(deploy.body.id);
    expect(deployed.body.status).toBe('succeeded');
    expect(deployed.body.steps.map((s: { name: string; status: string }) => `${s.name}:${s.status}`)).toEqual([
      'Prepare:succeeded',
      'Build Image:skipped',
      'Apply Revision:succeeded',
      'Wait Until Ready:succeeded',
      'Promote:succeeded',
    ]);
    for (const s of deployed.body.steps.filter((step: { status: string }) => step.status !== 'skipped')) {
      expect(Date.parse(s.endedAt)).toBeGreaterThanOrEqual(Date.parse(s.startedAt));
    }

    const route = await http('PUT', `${api}/projects/e2e/models/iris/endpoints/local`, {
      rule: { destinations: [{ version, weight: 100 }] },
    });
    expect(route.status).toBe(202);
    expect((await untilDeployment(route.body.id)).body.status).toBe('succeeded');
    const me = await http('GET', `${api}/projects/e2e/models/iris/endpoints/local`);
    expect(me.body).toMatchObject({ status: 'serving', url: `${p.url}/serving/e2e/iris` });
    const ve = await http('GET', `${api}${V}/${version}/endpoints/local`);
    expect(ve.body).toMatchObject({ status: 'serving', url: `${p.url}/serving/e2e/iris/versions/${version}` });

    const v1 = await http('POST', `${me.body.url}/v1/models/iris:predict`, { instances: reference.instances });
    expect(v1.status).toBe(200);
    expect(v1.headers.get('x-model-version')).toBe(String(version));
    v1.body.predictions.forEach((pred: { probabilities: number[]; label: number }, i: number) => {
      expect(pred.label).toBe(reference.labels[i]);
      for (const [j, x] of pred.probabilities.entries()) {
        expect(Math.abs(x - reference.probabilities[i]![j]!)).toBeLessThan(1e-5);
      }
    });

    const v2 = await http('POST', `${ve.body.url}/v2/models/iris/infer`, {
      id: 'req-1',
      inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', data: reference.instances.slice(0, 2).flat() }],
    });
    expect(v2.status).toBe(200);
    expect(v2.body).toMatchObject({ id: 'req-1', model_name: 'iris', model_version: String(version) });
    const probs = v2.body.outputs.find((o: { name: string }) => o.name === 'probabilities');
    expect(probs.shape).toEqual([2, 3]);
    for (const [k, x] of (probs.data as number[]).entries()) {
      expect(Math.abs(x - reference.probabilities[Math.floor(k / 3)]![k % 3]!)).toBeLessThan(1e-5);
    }
  });

  describe('bad input gets a precise 4xx and loses nothing', () => {
    it('malformed JSON ⇒ 400', async () => {
      const r = await http('POST', `${api}/projects`, '{"name": "x",', { 'content-type': 'application/json' });
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'VALIDATION_FAILED' });
      expect(r.body.error.message).toContain('not valid JSON');
      expect(r.body.requestId).toEqual(expect.any(String));
    });

    it('unknown field ⇒ 400 naming it', async () => {
      const r = await http('POST', `${api}/projects`, { name: 'fine-name', owner: 'me' });
      expect(r.status).toBe(400);
      expect(r.body.error.message).toBe('body.owner: is not a known field');
      expect((await http('GET', `${api}/projects/fine-name`)).status).toBe(404);
    });

    it('invalid field value ⇒ 400 naming the allowed values', async () => {
      const r = await http('POST', `${api}/projects/e2e/models`, { name: 'other', type: 'sklearn' });
      expect(r.status).toBe(400);
      expect(r.body.error.message).toContain('body.type: must be one of onnx, xgboost, function, custom');
    });

    it('names that break the DESIGN regexes ⇒ 400 with the rule', async () => {
      const project = await http('POST', `${api}/projects`, { name: 'Bad_Name' });
      expect(project.status).toBe(400);
      expect(project.body.error.message).toContain('body.name: must be 3-50 characters of lowercase letters');
      const model = await http('POST', `${api}/projects/e2e/models`, {
        name: 'a-model-name-longer-than-25',
        type: 'onnx',
      });
      expect(model.status).toBe(400);
      expect(model.body.error.message).toContain('body.name: must be 3-25 characters');
      expect((await http('GET', `${api}/projects/Bad_Name`)).status).toBe(400);
    });

    it('duplicate project or model ⇒ 409 and the original is untouched', async () => {
      const dupProject = await http('POST', `${api}/projects`, { name: 'e2e', description: 'again' });
      expect(dupProject.status).toBe(409);
      expect(dupProject.body.error).toMatchObject({ code: 'ALREADY_EXISTS', message: 'project "e2e" already exists' });
      expect((await http('GET', `${api}/projects/e2e`)).body.description).toBeUndefined();
      const dupModel = await http('POST', `${api}/projects/e2e/models`, { name: 'iris', type: 'xgboost' });
      expect(dupModel.status).toBe(409);
      expect((await http('GET', `${api}/projects/e2e/models/iris`)).body.type).toBe('onnx');
    });

    it('deploying a version whose artifact is not complete ⇒ 409 saying what to do', async () => {
      const v = await http('POST', `${api}${V}`, {});
      const r = await http('POST', `${api}${V}/${v.body.version}/endpoints`, {});
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe('ARTIFACT_INCOMPLETE');
      expect(r.body.error.message).toContain('artifact:complete');
      expect((await http('GET', `${api}${V}/${v.body.version}/endpoints/local`)).status).toBe(404);
    });

    it('an unknown environment ⇒ 422 listing the known ones', async () => {
      const r = await http('POST', `${api}${V}/1/endpoints`, { environment: 'staging' });
      expect(r.status).toBe(422);
      expect(r.body.error).toMatchObject({ code: 'UNKNOWN_ENVIRONMENT' });
      expect(r.body.error.message).toBe('unknown environment "staging"; known environments: local');
      expect((await http('GET', `${api}/environments/staging`)).status).toBe(404);
    });

    it('a missing project, model or version ⇒ 404 naming it', async () => {
      const project = await http('GET', `${api}/projects/nope`);
      expect(project.status).toBe(404);
      expect(project.body.error.message).toBe('project "nope" not found');
      const model = await http('POST', `${api}/projects/e2e/models/nope/versions`, {});
      expect(model.status).toBe(404);
      expect(model.body.error.message).toBe('model "nope" not found in project "e2e"');
      const version = await http('POST', `${api}${V}/999/endpoints`, {});
      expect(version.status).toBe(404);
      expect(version.body.error.message).toBe('e2e/iris version 999 not found');
    });

    it('a file whose sha256 does not match at artifact:complete ⇒ 422 and the artifact stays open', async () => {
      const v = await http('POST', `${api}${V}`, {});
      const up = await http('POST', `${api}${V}/${v.body.version}/artifact:upload`, {
        files: [{ path: 'model.onnx' }],
      });
      await fetch(up.body.uploads[0].url, { method: 'PUT', body: MODEL, headers: up.body.uploads[0].headers });
      const wrong = SHA.replace(/^./, SHA[0] === '0' ? '1' : '0');
      const r = await http('POST', `${api}${V}/${v.body.version}/artifact:complete`, {
        files: [{ path: 'model.onnx', size: MODEL.length, sha256: wrong }],
      });
      expect(r.status).toBe(422);
      expect(r.body.error.code).toBe('ARTIFACT_MISMATCH');
      expect(r.body.error.message).toContain(`model.onnx: sha256 is ${SHA}, expected ${wrong}`);
      expect((await http('GET', `${api}${V}/${v.body.version}`)).body.artifact.status).toBe('pending');
      const fixed = await http('POST', `${api}${V}/${v.body.version}/artifact:complete`, {
        files: [{ path: 'model.onnx', size: MODEL.length, sha256: SHA }],
      });
      expect(fixed.status).toBe(200);
    });

    it('a predict body that does not match the model inputs ⇒ 400 naming the input and the expected shape', async () => {
      const r = await http('POST', `${p.url}/serving/e2e/iris/v1/models/iris:predict`, { instances: [[1, 2, 3]] });
      expect(r.status).toBe(400);
      expect(r.body.error).toContain("input 'input'");
      expect(r.body.error).toContain('[4]');
      const v2 = await http('POST', `${p.url}/serving/e2e/iris/v2/models/iris/infer`, {
        inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }],
      });
      expect(v2.status).toBe(400);
      expect(v2.body.error).toContain("'x'");
    });

    it('an unknown route ⇒ 404 and a wrong method ⇒ 405, both in the error shape', async () => {
      expect((await http('GET', `${api}/nothing-here`)).body.error.code).toBe('NOT_FOUND');
      const r = await http('DELETE', `${api}/environments`);
      expect(r.status).toBe(405);
      expect(r.body.error.code).toBe('METHOD_NOT_ALLOWED');
    });
  });

  it('survives a restart: state kept, serving brought back, no model server left behind', async () => {
    const servers = modelServerPids(p.child.pid!);
    expect(servers.length).toBeGreaterThan(0);
    expect(await p.stop('SIGTERM')).toBe(0);
    for (const pid of servers) expect(alive(pid)).toBe(false);

    p = await spawnPlatform({ port, dataDir });
    expect(p.output()).toContain('restored e2e/iris@1 in local');
    expect((await http('GET', `${api}/projects/e2e`)).status).toBe(200);
    expect((await http('GET', `${api}${V}/1/endpoints/local`)).body.status).toBe('serving');
    const r = await http('POST', `${p.url}/serving/e2e/iris/v1/models/iris:predict`, {
      instances: [reference.instances[0]],
    });
    expect(r.status).toBe(200);
    expect(r.body.predictions[0].label).toBe(reference.labels[0]);
  });

  it('reports a model server that crashes after it was ready as failed, with the reason', async () => {
    const [server] = modelServerPids(p.child.pid!);
    process.kill(server!, 'SIGKILL');
    const ve = await eventually(
      () => http('GET', `${api}${V}/1/endpoints/local`),
      (r) => r.body.status === 'failed',
    );
    expect(ve.body.message).toMatch(/^model server exited unexpectedly with signal SIGKILL/);
    const r = await http('POST', `${p.url}/serving/e2e/iris/v1/models/iris:predict`, {
      instances: [reference.instances[0]],
    });
    expect(r.status).toBe(503);
  });

  it('runs the README walkthrough (npm run demo) against the platform', async () => {
    const child = spawn('npm', ['run', 'demo'], {
      cwd: ROOT,
      env: { ...process.env, MERLIN_URL: p.url, DEMO_PROJECT: 'walkthrough' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(out, out).toContain('largest difference from scikit-learn');
    expect(code, out).toBe(0);
  });
});

describe('e2e: npm start, stopped with Ctrl+C', () => {
  it('starts with the README command and leaves no process behind on SIGINT to the terminal group', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'merlin-e2e-npm-'));
    const port = await freePort();
    const p = await spawnPlatform({ port, dataDir, command: 'npm' });
    expect((await http('GET', `${p.url}/healthz`)).body).toEqual({ status: 'ok' });
    const pgid = p.child.pid!;
    await p.stop('SIGINT');
    await eventually(
      () => alive(-pgid),
      (v) => v === false,
    );
    rmSync(dataDir, { recursive: true, force: true });
  });
});

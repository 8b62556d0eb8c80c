/**
 * The `merlin` CLI as a user runs it (`bin/merlin.mjs`, a process per command) against the local platform started in
 * this test: the README walkthrough (deploy --serve, then predict), --json output parsed, traffic splits, logs,
 * deployments, undeploy, a deploy that fails with the model server's reason and a non-zero exit, usage errors.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform } from '../helpers/platform.js';
import { freePort } from '../helpers/spawn-platform.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const iris = JSON.parse(readFileSync(`${ROOT}examples/iris/reference.json`, 'utf8')) as {
  instances: number[][];
  labels: number[];
};

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let url: string;

/** `merlin …args` in the repository, pointed at the test platform through MERLIN_URL; `onOutput` sees stdout grow. */
function start(args: string[], onOutput?: (stdout: string, child: ChildProcess) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/merlin.mjs', ...args], {
      cwd: ROOT,
      env: { ...process.env, MERLIN_URL: url, MERLIN_TOKEN: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => {
      stdout += d;
      onOutput?.(stdout, child);
    });
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
const merlin = (...args: string[]) => start(args);

/** A custom model whose command never becomes ready: its deploy stays in "Wait Until Ready". */
const NEVER_READY = ['--type', 'custom', '--command', '["node","-e","setInterval(() => {}, 1e9)"]'];

const ok = (r: Run) => {
  expect(r.stderr.startsWith('merlin:') ? r.stderr : '', 'stderr').toBe('');
  expect(r.code).toBe(0);
  return r;
};
const parsed = (r: Run) => JSON.parse(ok(r).stdout);

/** The lines of `text` that match each pattern, in this order (other lines may come between). */
function expectInOrder(text: string, patterns: RegExp[]) {
  const lines = text.split('\n');
  let at = 0;
  for (const p of patterns) {
    const i = lines.findIndex((l, j) => j >= at && p.test(l));
    expect(i, `${p} after line ${at} in:\n${text}`).toBeGreaterThanOrEqual(0);
    at = i + 1;
  }
}

describe('e2e: the merlin CLI', () => {
  let stop: () => Promise<void>;

  beforeAll(async () => {
    const p = await startTestPlatform();
    stop = () => p.stop();
    url = p.platform.url;
  });
  afterAll(async () => {
    await stop?.();
  });

  it('the walkthrough: one command deploys and serves the iris model, the next predicts', async () => {
    const deploy = ok(
      await merlin('deploy', 'examples/iris/model.onnx', '--project', 'demo', '--model', 'iris', '--serve'),
    );
    expectInOrder(deploy.stdout, [
      new RegExp(`^Deploying examples/iris/model.onnx as demo/iris on ${url}$`),
      /^ {2}✓ Project demo \(\d+ ms\) — created$/,
      /^ {2}✓ Model demo\/iris \(\d+ ms\) — created, onnx$/,
      /^ {2}✓ Create version demo\/iris@1 \(\d+ ms\)$/,
      /^ {2}✓ Upload model.onnx \(\d+ ms\) — 533 B, sha256 a79d5c031d42…$/,
      /^ {2}✓ Verify artifact \(\d+ ms\) — 1 file, 533 B/,
      /^ {2}▸ Deploy demo\/iris@1 to local \(deployment [0-9A-Z]{26}\)$/,
      /^ {4}✓ Prepare \(\d+ ms\)$/,
      /^ {4}- Build Image skipped$/,
      /^ {4}✓ Apply Revision \(\d+ ms\)$/,
      /^ {4}✓ Wait Until Ready \((\d+ ms|\d+\.\d s)\)$/,
      /^ {4}✓ Promote \(\d+ ms\)$/,
      /^ {2}✓ Deploy demo\/iris@1 to local \((\d+ ms|\d+\.\d s)\)$/,
      /^ {2}▸ Route demo\/iris in local: version 1 100% \(deployment [0-9A-Z]{26}\)$/,
      /^ {4}✓ Apply Route/,
      /^ {2}✓ Route demo\/iris in local: version 1 100% \(\d+ ms\)$/,
      new RegExp(`^Version endpoint  ${url}/serving/demo/iris/versions/1  \\(serving\\)$`),
      new RegExp(`^Model endpoint    ${url}/serving/demo/iris  \\(version 1 100%\\)$`),
    ]);
    expect(deploy.stderr).toBe("Predict:  npx merlin predict demo/iris --data '[[0,0,0,0]]'\n");

    const predict = ok(await merlin('predict', 'demo/iris', '--data', JSON.stringify(iris.instances)));
    const body = JSON.parse(predict.stdout) as { predictions: { label: number }[] };
    expect(body.predictions.map((p) => p.label)).toEqual(iris.labels);
    expect(predict.stderr).toBe('answered by demo/iris@1 (v1)\n');

    const v2 = parsed(
      await merlin(
        'predict',
        'demo/iris@1',
        '--json',
        '--data',
        JSON.stringify({ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: iris.instances[0] }] }),
      ),
    );
    expect(v2).toMatchObject({ version: 1, protocol: 'v2', response: { model_name: 'iris' } });
    expect(v2.response.outputs.find((o: { name: string }) => o.name === 'label').data).toEqual([iris.labels[0]]);
  });

  it('--json on every command: deploy, serve, lists, logs, deployments, undeploy', async () => {
    const d = parsed(
      await merlin('deploy', 'examples/iris', '--project', 'demo', '--model', 'iris', '--label', 'team=ds', '--json'),
    );
    expect(d).toMatchObject({
      project: 'demo',
      model: 'iris',
      version: 2,
      type: 'onnx',
      created: { project: false, model: false },
      endpoint: { status: 'running', version: 2, environment: 'local' },
      modelEndpoint: null,
    });
    // a directory: every file but the dot-files, the model found by convention
    expect(d.artifact.files.map((f: { path: string }) => f.path).sort()).toEqual([
      'README.md',
      'broken/model.onnx',
      'generate.py',
      'model.onnx',
      'reference.json',
    ]);
    const names = d.steps.map((s: { step: string; status: string }) => `${s.step}: ${s.status}`);
    expect(names).toEqual(
      expect.arrayContaining(['Wait Until Ready: succeeded', 'Deploy demo/iris@2 to local: succeeded']),
    );
    const deploymentId = d.steps.find((s: { step: string }) => s.step === 'Promote').deploymentId as string;

    // global options before the command; a mirror copies 10% of the requests to version 2 (its answers dropped)
    const mirrored = parsed(
      await merlin('--url', url, '--json', 'serve', 'demo/iris', '--to', '1=100', '--mirror', '2:10'),
    );
    expect(mirrored.rule).toEqual({ destinations: [{ version: 1, weight: 100 }], mirror: { version: 2, percent: 10 } });
    expect(mirrored.steps.map((s: { step: string; status: string }) => `${s.step}: ${s.status}`)).toContain(
      'Route demo/iris in local: version 1 100%, mirror version 2 10%: succeeded',
    );

    const served = parsed(await merlin('serve', 'demo/iris', '--to', '1=90,2=10', '--json'));
    expect(served.rule).toEqual({
      destinations: [
        { version: 1, weight: 90 },
        { version: 2, weight: 10 },
      ],
    });
    expect(served.url).toBe(`${url}/serving/demo/iris`);

    expect(parsed(await merlin('projects', 'list', '--json')).map((p: { name: string }) => p.name)).toEqual(['demo']);
    expect(parsed(await merlin('models', 'list', 'demo', '--json'))).toMatchObject([
      { name: 'iris', latestVersion: 2 },
    ]);
    const versions = parsed(await merlin('versions', 'list', 'demo/iris', '--json'));
    expect(versions.map((v: { version: number }) => v.version).sort()).toEqual([1, 2]);
    const labelled = parsed(await merlin('versions', 'list', 'demo/iris', '--label', 'team=ds', '--json'));
    expect(labelled.map((v: { version: number }) => v.version)).toEqual([2]);
    const endpoints = parsed(await merlin('endpoints', 'list', 'demo/iris', '--json'));
    expect(endpoints.modelEndpoints).toHaveLength(1);
    expect(
      endpoints.versionEndpoints.map((e: { version: number; status: string }) => [e.version, e.status]).sort(),
    ).toEqual([
      [1, 'serving'],
      [2, 'serving'],
    ]);
    const table = ok(await merlin('endpoints', 'list', 'demo/iris'));
    expect(table.stdout).toMatch(/^ENDPOINT +ENV +STATUS +URL +ROUTE$/m);
    expect(table.stdout).toMatch(
      /^demo\/iris +local +serving +http\S+\/serving\/demo\/iris +version 1 90%, version 2 10%$/m,
    );

    const logs = parsed(await merlin('logs', 'demo/iris@1', '--tail', '3', '--json'));
    expect(logs).toMatchObject({ project: 'demo', model: 'iris', version: 1, environment: 'local' });
    expect(logs.lines.length).toBeGreaterThan(0);
    expect(logs.lines.length).toBeLessThanOrEqual(3);

    const watched = parsed(await merlin('deployments', 'watch', deploymentId, '--json'));
    expect(watched).toMatchObject({ id: deploymentId, kind: 'deploy', status: 'succeeded' });
    const human = ok(await merlin('deployments', 'watch', deploymentId));
    expectInOrder(human.stdout, [
      new RegExp(`^Deployment ${deploymentId}: deploy of demo/iris@2 in local, succeeded$`),
      /^ {4}✓ Prepare/,
      /^ {4}✓ Promote/,
      /^ {2}succeeded$/,
    ]);

    // a version that receives traffic cannot be undeployed: the server's reason, exit 1
    const refused = await merlin('undeploy', 'demo/iris@2');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^merlin: .*(traffic|serving|routes)/);
    ok(await merlin('serve', 'demo/iris', '--to', '1=100'));
    const undeployed = ok(await merlin('undeploy', 'demo/iris@2'));
    expect(undeployed.stdout).toContain('demo/iris@2 is undeployed from local');
  });

  it('a model that cannot load: the reason on stderr, the failed step in the progress, exit 1', async () => {
    const r = await merlin('deploy', 'examples/iris/broken/model.onnx', '--project', 'demo', '--model', 'broken');
    expect(r.code).toBe(1);
    expectInOrder(r.stdout, [
      /^ {4}✓ Apply Revision/,
      /^ {4}✗ Wait Until Ready \(/,
      /^ {2}✗ Deploy demo\/broken@1 to local/,
    ]);
    expect(r.stderr).toMatch(
      /^merlin: deploy of demo\/broken@1 in local failed in step "Wait Until Ready": model server exited with code 1: model failed to load: onnxruntime: /m,
    );
    expect(r.stderr).toContain('merlin logs demo/broken@1');

    const j = await merlin(
      'deploy',
      'examples/iris/broken/model.onnx',
      '--project',
      'demo',
      '--model',
      'broken',
      '--json',
    );
    expect(j.code).toBe(1);
    expect(j.stdout).toBe('');
    const { error } = JSON.parse(j.stderr);
    expect(error).toMatchObject({ code: 'RevisionFailed', step: 'Wait Until Ready', deploymentId: expect.any(String) });
    expect(error.reason).toMatch(/^model server exited with code 1: model failed to load: /);

    const watched = await merlin('deployments', 'watch', error.deploymentId);
    expect(watched.code).toBe(1);
    expect(watched.stderr).toContain(error.reason);
    const logs = ok(await merlin('logs', 'demo/broken@2'));
    expect(logs.stdout).toContain('model failed to load');
  });

  it('a deploy that outlives --timeout exits 3, Ctrl+C exits 130: both name the deployment going on', async () => {
    const timedOut = await merlin(
      'deploy',
      'examples/iris/model.onnx',
      '--project',
      'demo',
      '--model',
      'slow',
      '--timeout',
      '1',
      ...NEVER_READY,
    );
    expect(timedOut.code).toBe(3);
    const id = /deployment ([0-9A-Z]{26})/.exec(timedOut.stdout)?.[1];
    // the step it was in: Wait Until Ready, unless the machine is slow enough to still be applying the revision
    expect(timedOut.stderr).toMatch(
      new RegExp(
        `\\(deployment ${id}\\) did not finish within 1 s\\. It was in step "(Apply Revision|Wait Until Ready)"`,
      ),
    );
    const watched = await merlin('deployments', 'watch', id!, '--timeout', '1', '--json');
    expect(watched.code).toBe(3);
    expect(JSON.parse(watched.stderr).error).toMatchObject({
      code: 'TIMEOUT',
      deploymentId: id,
      step: expect.stringMatching(/^(Apply Revision|Wait Until Ready)$/),
    });

    let signalled = false;
    const interrupted = await start(
      ['deploy', 'examples/iris/model.onnx', '--project', 'demo', '--model', 'slower', ...NEVER_READY],
      (stdout, child) => {
        if (!signalled && /✓ Apply Revision/.test(stdout)) {
          signalled = true;
          child.kill('SIGINT');
        }
      },
    );
    expect(interrupted.code).toBe(130);
    const started = /deployment ([0-9A-Z]{26})/.exec(interrupted.stdout)?.[1];
    expect(interrupted.stderr).toContain(
      `interrupted: deployment ${started} goes on on the server; follow it with: npx merlin deployments watch ${started}`,
    );
    const d = parsed(await merlin('deployments', 'get', started!, '--json'));
    expect(d).toMatchObject({ id: started, status: 'running' });
  });

  it('usage mistakes exit 2, refusals 1 with the server’s message, an unreachable platform 4', async () => {
    const split = await merlin('serve', 'demo/iris', '--to', '1=50');
    expect(split).toMatchObject({ code: 2 });
    expect(split.stderr).toContain('merlin: --to: the weights add up to 50, not 100');
    expect((await merlin('predict', 'demo', '--data', '[]')).stderr).toContain('expected project/model[@version]');
    expect((await merlin('frobnicate')).code).toBe(2);
    expect(await merlin('serve', 'demo/iris', '--to', '1=100', '--mirror', '2:101')).toMatchObject({ code: 2 });
    expect(await merlin('undeploy', 'demo/iris@0')).toMatchObject({ code: 2 });
    const noFile = await merlin('predict', 'demo/iris', '--file', 'nonexistent.json');
    expect(noFile).toMatchObject({ code: 2, stderr: expect.stringContaining('--file nonexistent.json: no such file') });
    expect((await merlin('deploy', 'examples/iris/model.onnx', '--project', 'demo')).stderr).toContain(
      'deploy needs --project and --model',
    );

    const missing = await merlin('versions', 'list', 'demo/nope');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^merlin: .*nope/);
    const mistyped = await merlin(
      'deploy',
      'examples/iris/model.onnx',
      '--project',
      'demo',
      '--model',
      'iris',
      '--type',
      'xgboost',
    );
    expect(mistyped.code).toBe(2);
    expect(mistyped.stderr).toContain('has type "onnx", not "xgboost"');

    const down = await merlin('projects', 'list', '--url', `http://127.0.0.1:${await freePort()}`, '--json');
    expect(down.code).toBe(4);
    expect(JSON.parse(down.stderr).error).toMatchObject({
      code: 'UNREACHABLE',
      message: expect.stringMatching(/ECONNREFUSED/),
    });
  });
});

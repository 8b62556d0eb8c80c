/**
 * The model-server container (serving/Dockerfile), without a Docker engine: the Dockerfile's key properties read
 * statically, then the image's program as the image builds and runs it — the Dockerfile's own esbuild command bundles
 * serving/main.ts, and `node main.mjs` (no tsx) serves a fixture model: ready, one prediction, the HEALTHCHECK command
 * passes, SIGTERM stops it with exit code 0.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { builtinModules } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, irisDir, post, repoRoot } from './server-process.js';

const dockerfile = readFileSync(path.join(repoRoot, 'serving/Dockerfile'), 'utf8');
/** Instructions with their continuation lines joined; heredoc bodies are skipped. */
const instructions: string[] = [];
{
  let current = '';
  let heredoc: string | undefined;
  for (const line of dockerfile.split('\n')) {
    if (heredoc !== undefined) {
      if (line === heredoc) heredoc = undefined;
      continue;
    }
    if (current === '' && (line.startsWith('#') || line.trim() === '')) continue;
    current += current === '' ? line : ` ${line.trim()}`;
    if (current.endsWith('\\')) {
      current = current.slice(0, -1).trimEnd();
      continue;
    }
    const marker = /<<'?(\w+)'?\s*$/.exec(current);
    if (marker) heredoc = marker[1];
    instructions.push(current);
    current = '';
  }
}
const of = (keyword: string) => instructions.filter((i) => i.startsWith(`${keyword} `));
/** The instructions of the last stage (the image that runs). */
const finalStage = instructions.slice(instructions.map((i) => i.startsWith('FROM ')).lastIndexOf(true));
const execForm = (instruction: string): string[] => JSON.parse(instruction.slice(instruction.indexOf('['))) as string[];

describe('serving/Dockerfile', () => {
  it('should build every stage from Node 22 slim', () => {
    const arg = of('ARG').find((a) => a.startsWith('ARG NODE_IMAGE='));
    const nodeImage = arg?.slice('ARG NODE_IMAGE='.length);
    expect(nodeImage).toMatch(/^node:22[\w.-]*-slim$/);
    const froms = of('FROM');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const from of froms) {
      const image = from.split(/\s+/)[1]?.replace(/^\$\{NODE_IMAGE\}$/, nodeImage as string);
      expect(image).toMatch(/^node:22[\w.-]*-slim$/);
    }
  });

  it('should run as a non-root user, expose 8080 and check liveness on /v2/health/live', () => {
    const user = finalStage
      .filter((i) => i.startsWith('USER '))
      .at(-1)
      ?.split(/\s+/)[1];
    expect(user).toBeDefined();
    expect(['root', '0', '0:0']).not.toContain(user);
    expect(finalStage).toContain('EXPOSE 8080');
    const healthcheck = finalStage.find((i) => i.startsWith('HEALTHCHECK '));
    expect(healthcheck).toContain('/v2/health/live');
    expect(finalStage.some((i) => /^ENV .*PORT=8080/.test(i))).toBe(true);
    expect(dockerfile).toContain('/v2/health/ready');
  });

  it('should run the bundle with node, not tsx, from production dependencies only', () => {
    const cmd = execForm(finalStage.find((i) => i.startsWith('CMD ')) as string);
    expect(cmd[0]).toBe('node');
    expect(cmd.at(-1)).toBe('main.mjs');
    expect(instructions.join('\n')).not.toMatch(/\btsx\b/);
    expect(of('RUN').some((r) => r.includes('npm ci --omit=dev'))).toBe(true);
    expect(finalStage.some((i) => i.startsWith('RUN '))).toBe(false);
    expect(finalStage.filter((i) => i.startsWith('COPY '))).toEqual([
      'COPY --from=deps /prod/node_modules ./node_modules',
      'COPY --from=build /app/dist/main.mjs /app/dist/main.mjs.map ./',
    ]);
  });

  it('should keep onnxruntime to this platform and the CPU provider, without its install download', () => {
    expect(of('ENV').filter((e) => e.includes('ONNXRUNTIME_NODE_INSTALL=skip'))).toHaveLength(3);
    const prune = of('RUN').find((r) => r.includes('onnxruntime-node/bin/napi-v6'));
    expect(prune).toBeDefined();
    expect(prune).toContain('! -name linux');
    expect(prune).toContain('! -name "$arch"');
    expect(prune).toContain('providers_cuda');
    expect(prune).toContain('providers_tensorrt');
  });

  it('should leave node_modules and local state out of the build context', () => {
    const ignored = readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['**/node_modules', '.git', '.merlin', 'cdk.out']) expect(ignored).toContain(entry);
  });
});

describe('The container program: the esbuild bundle of serving/main.ts', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'merlin-bundle-'));
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    // The image's layout: /app/main.mjs beside /app/node_modules.
    symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    const args = execForm(of('RUN').find((r) => r.includes('"esbuild"')) as string).map((a) =>
      a.startsWith('--outfile=') ? `--outfile=${path.join(dir, 'main.mjs')}` : a,
    );
    expect(args.slice(0, 3)).toEqual(['npx', 'esbuild', 'serving/main.ts']);
    await promisify(execFile)(path.join(repoRoot, 'node_modules/.bin/esbuild'), args.slice(2), { cwd: repoRoot });
  });

  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('should import nothing at run time but node builtins, onnxruntime-node and the AWS SDK', () => {
    const bundle = readFileSync(path.join(dir, 'main.mjs'), 'utf8');
    const specifiers = new Set<string>();
    for (const m of bundle.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)["']([^"']+)["']/g)) {
      specifiers.add(m[1] as string);
    }
    const outside = [...specifiers].filter(
      (s) => !s.startsWith('node:') && s !== 'onnxruntime-node' && !s.startsWith('@aws-sdk/') && !s.startsWith('.'),
    );
    // Builtins imported without the node: prefix are fine too.
    const builtins = new Set(builtinModules);
    expect(outside.filter((s) => !builtins.has(s))).toEqual([]);
    expect(specifiers.has('onnxruntime-node')).toBe(true);
    expect(bundle).not.toContain('tsx/esm');
  });

  it('should start, get ready, predict, pass the HEALTHCHECK and stop on SIGTERM', async () => {
    const logs: string[] = [];
    const proc = spawn(process.execPath, ['--enable-source-maps', 'main.mjs'], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'production',
        MODEL_NAME: 'iris',
        MODEL_VERSION: '5',
        ARTIFACT_URI: `file://${irisDir}`,
        PORT: '0',
        HOST: '127.0.0.1',
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    child = proc;
    proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => logs.push(chunk));
    let stderr = '';
    proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const port = await new Promise<number>((resolve, reject) => {
      let listening: number | undefined;
      proc.on('message', (m: { type: string; port?: number; reason?: string }) => {
        if (m.type === 'listening') listening = m.port;
        if (m.type === 'ready' && listening) resolve(listening);
        if (m.type === 'failed') reject(new Error(m.reason));
      });
      void exited.then((code) => reject(new Error(`exited ${code}: ${stderr} ${logs.join('')}`)));
    });
    const url = (p: string) => `http://127.0.0.1:${port}${p}`;
    expect((await call(url('/v2/health/ready'))).status).toBe(200);
    const reference = JSON.parse(readFileSync(`${irisDir}reference.json`, 'utf8')) as {
      instances: number[][];
      labels: number[];
    };
    const res = await post(url('/v1/models/iris:predict'), { instances: reference.instances.slice(0, 3) });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-model-version')).toBe('5');
    expect((res.body as { predictions: { label: number }[] }).predictions.map((p) => p.label)).toEqual(
      reference.labels.slice(0, 3),
    );

    // The image's HEALTHCHECK, as Docker would run it inside the container.
    const healthcheck = execForm(finalStage.find((i) => i.startsWith('HEALTHCHECK ')) as string);
    expect(healthcheck[0]).toBe('node');
    await promisify(execFile)(process.execPath, healthcheck.slice(1), {
      env: { PATH: process.env.PATH, PORT: String(port) },
    });

    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
    expect(logs.join('')).toContain('"msg":"stopped"');
  });
});

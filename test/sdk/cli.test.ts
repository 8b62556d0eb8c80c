/**
 * The CLI's parsing, in process (`run` with a fake io and a fake fetch): global options before or after the command,
 * `--auth`/`--region`, usage mistakes exiting 2, the `--to`/`--mirror` parser. The CLI against a real platform is in
 * test/e2e/cli.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { commandIndex, parseSplit, run } from '../../sdk/cli/main.js';
import type { Io } from '../../sdk/cli/output.js';

function io(env: Record<string, string | undefined> = {}) {
  const o = { stdout: '', stderr: '' };
  const x: Io = {
    stdout: (t) => {
      o.stdout += t;
    },
    stderr: (t) => {
      o.stderr += t;
    },
    isTTY: false,
    env,
  };
  return { io: x, o };
}

/** A fetch answering every request with an empty page, recording URL and headers. */
function fakeApi() {
  const calls: { url: string; headers: Record<string, string> }[] = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
    calls.push({ url, headers: init.headers as Record<string, string> });
    return new Response(JSON.stringify({ items: [{ name: 'demo', labels: {}, createdAt: '2026-11-26T10:00:00Z' }] }), {
      status: 200,
    });
  });
  return calls;
}

beforeEach(() => {
  for (const k of ['AWS_REGION', 'AWS_DEFAULT_REGION', 'MERLIN_TOKEN', 'MERLIN_URL', 'MERLIN_AUTH']) vi.stubEnv(k, '');
});
afterEach(() => {
  vi.unstubAllEnvs();
  vi.unstubAllGlobals();
});

describe('global options', () => {
  it('are found before the command as well as after it', async () => {
    expect(commandIndex(['--url', 'http://x', '--json', 'projects', 'list'])).toBe(3);
    expect(commandIndex(['--url=http://x', '-h', 'deploy', 'p'])).toBe(2);
    expect(commandIndex(['--timeout', '30', '--', 'serve'])).toBe(3);
    expect(commandIndex(['--json'])).toBe(-1);

    const calls = fakeApi();
    const a = io();
    expect(await run(['--url', 'http://platform.test', '--json', 'projects', 'list', '--limit', '5'], a.io)).toBe(0);
    expect(calls.map((c) => c.url)).toEqual(['http://platform.test/v1/projects?limit=100']);
    expect(JSON.parse(a.o.stdout)).toEqual([{ name: 'demo', labels: {}, createdAt: '2026-11-26T10:00:00Z' }]);

    const b = io({ MERLIN_URL: '' }); // empty: the default platform
    expect(await run(['projects', 'list'], b.io)).toBe(0);
    expect(calls[1]?.url).toBe('http://127.0.0.1:8080/v1/projects?limit=100');

    const help = io();
    expect(await run(['--url', 'http://x', '--help'], help.io)).toBe(0);
    expect(help.o.stdout).toContain('Options for every command (before or after it)');
    expect(await run([], io().io)).toBe(2);
    const unknown = io();
    expect(await run(['--url', 'http://x', 'frobnicate'], unknown.io)).toBe(2);
    expect(unknown.o.stderr).toContain('unknown command "frobnicate"');
  });
});

describe('--auth and --region', () => {
  it('sign a custom domain with SigV4 in the region given, else AWS_REGION', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY');
    vi.stubEnv('AWS_SESSION_TOKEN', '');
    const calls = fakeApi();
    const args = ['projects', 'list', '--url', 'https://merlin.example.com', '--auth', 'sigv4'];
    expect(await run([...args, '--region', 'eu-west-3'], io().io)).toBe(0);
    vi.stubEnv('AWS_REGION', 'us-east-2');
    expect(await run(args, io().io)).toBe(0);
    expect(
      await run(['projects', 'list', '--url', 'https://merlin.example.com'], io({ MERLIN_AUTH: 'sigv4' }).io),
    ).toBe(0);
    expect(
      calls.map((c) => /Credential=AKIDEXAMPLE\/\d{8}\/([^/]+\/[^/]+)\//.exec(c.headers.authorization!)?.[1]),
    ).toEqual(['eu-west-3/execute-api', 'us-east-2/execute-api', 'us-east-2/execute-api']);

    const bearer = fakeApi();
    expect(await run([...args.slice(0, 4), '--auth', 'bearer', '--token', 't0k'], io().io)).toBe(0);
    expect(bearer[0]?.headers.authorization).toBe('Bearer t0k');
  });

  it('a missing region, a missing token or an unknown mode is a usage mistake naming the option', async () => {
    const noRegion = io();
    expect(await run(['projects', 'list', '--url', 'https://merlin.example.com', '--auth', 'sigv4'], noRegion.io)).toBe(
      2,
    );
    expect(noRegion.o.stderr).toContain(
      "SigV4 needs the API's region (merlin.example.com does not name one): pass --region",
    );
    const noToken = io();
    expect(await run(['projects', 'list', '--auth', 'bearer'], noToken.io)).toBe(2);
    expect(noToken.o.stderr).toContain('needs a token: pass --token');
    const bad = io();
    expect(await run(['projects', 'list', '--auth', 'iam'], bad.io)).toBe(2);
    expect(bad.o.stderr).toContain('--auth must be one of auto, sigv4, bearer, none, got "iam"');
  });
});

describe('usage mistakes exit 2', () => {
  it.each([
    [['deploy', 'examples/iris/model.onnx', '-p', 'demo', '-m', 'c', '--type', 'custom', '--command', '[bad']],
    [['predict', 'demo/iris', '--file', '/nonexistent/request.json']],
    [['serve', 'demo/iris', '--to', '1=100', '--mirror', '2:101']],
    [['undeploy', 'demo/iris@0']],
    [['logs', 'demo/iris@0']],
  ])('%j', async (argv) => {
    vi.stubGlobal('fetch', async () => {
      throw new Error('no request should be sent');
    });
    const x = io();
    expect(await run(argv, x.io)).toBe(2);
    expect(x.o.stderr).toMatch(/^merlin: /);
  });
});

describe('parseSplit (--to, --mirror)', () => {
  it('reads weights by version and a mirror', () => {
    expect(parseSplit('3=90, 4=10', undefined)).toEqual({
      destinations: [
        { version: 3, weight: 90 },
        { version: 4, weight: 10 },
      ],
    });
    expect(parseSplit('3=100', '5:12.5')).toEqual({
      destinations: [{ version: 3, weight: 100 }],
      mirror: { version: 5, percent: 12.5 },
    });
    expect(parseSplit('3=0,4=100', ' 5 : 0 ')).toMatchObject({ mirror: { version: 5, percent: 0 } });
  });

  it.each([
    [undefined, undefined, 'serve needs --to'],
    ['3', undefined, '--to: "3" is not version=weight'],
    ['3=90,4=20', undefined, 'the weights add up to 110, not 100'],
    ['3=50,3=50', undefined, 'version 3 is given twice'],
    ['0=100', undefined, 'versions start at 1'],
    ['3=-1,4=101', undefined, 'is not version=weight'],
    ['3=100', '5', '--mirror: "5" is not version:percent'],
    ['3=100', '5:101', 'the percent is at most 100'],
    ['3=100', '0:10', 'versions start at 1'],
  ])('--to %j --mirror %j: %s', (to, mirror, message) => {
    expect(() => parseSplit(to, mirror)).toThrow(message);
  });
});

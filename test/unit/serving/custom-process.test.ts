/** Pieces of the custom command's supervision: output lines, exit descriptions, the health probe, free ports. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import {
  describeExit,
  freePort,
  isTelling,
  LineSplitter,
  MAX_LINE_CHARS,
  probe,
} from '../../../serving/custom-process.js';

function split(chunks: (string | Uint8Array)[]): string[] {
  const lines: string[] = [];
  const splitter = new LineSplitter((l) => lines.push(l));
  for (const c of chunks) splitter.write(typeof c === 'string' ? Buffer.from(c) : c);
  splitter.flush();
  return lines;
}

describe('LineSplitter', () => {
  it('should split on \\n and \\r\\n, across chunks, and flush a last line without one', () => {
    expect(split(['one\ntw', 'o\r\nthree\n\nfou', 'r'])).toEqual(['one', 'two', 'three', '', 'four']);
  });

  it('should decode UTF-8 characters split across chunks', () => {
    const bytes = Buffer.from('héllo ✓\n');
    expect(split([bytes.subarray(0, 2), bytes.subarray(2, 8), bytes.subarray(8)])).toEqual(['héllo ✓']);
  });

  it('should cut a line longer than the limit and drop the rest of it', () => {
    const long = 'x'.repeat(MAX_LINE_CHARS + 10);
    const lines = split([long.slice(0, 100), long.slice(100), long.slice(0, 5), '\nnext\n']);
    expect(lines).toHaveLength(2);
    expect(lines[0]?.length).toBeLessThanOrEqual(MAX_LINE_CHARS + 1);
    expect(lines[1]).toBe('next');
  });
});

describe('isTelling', () => {
  it('should skip blank, indented and Node trailer lines', () => {
    expect(isTelling('Error: cannot open weights.bin')).toBe(true);
    expect(isTelling('')).toBe(false);
    expect(isTelling('    at main (file:///x/server.mjs:3:9)')).toBe(false);
    expect(isTelling('\tat x')).toBe(false);
    expect(isTelling('^^^')).toBe(false);
    expect(isTelling('}')).toBe(false);
    expect(isTelling('Node.js v20.20.2')).toBe(false);
  });
});

describe('describeExit', () => {
  it('should name the code, or the signal', () => {
    expect(describeExit({ code: 1, signal: null })).toBe('with code 1');
    expect(describeExit({ code: null, signal: 'SIGKILL' })).toBe('by signal SIGKILL');
  });
});

describe('probe', () => {
  const hanging: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    if (req.url === '/ok') return res.end('fine');
    if (req.url === '/hang') return void hanging.push(res);
    res.writeHead(503).end();
  });
  let port: number;

  afterAll(async () => {
    for (const res of hanging) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('should be ok only for a 200, and say what happened otherwise', async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;

    expect(await probe('127.0.0.1', port, '/ok', 2_000)).toEqual({ ok: true, detail: 'answered 200' });
    expect(await probe('127.0.0.1', port, '/v2/health/ready', 2_000)).toEqual({ ok: false, detail: 'answered 503' });
  });

  it('should report a refused connection', async () => {
    const closed = await freePort('127.0.0.1');
    const result = await probe('127.0.0.1', closed, '/', 2_000);
    expect(result.ok).toBe(false);
    expect(result.detail).toContain('ECONNREFUSED');
  });

  it('should give up on a server that does not answer', async () => {
    expect(await probe('127.0.0.1', port, '/hang', 50)).toEqual({ ok: false, detail: 'no answer within 50 ms' });
  });
});

describe('freePort', () => {
  it('should give a port that can be listened on', async () => {
    const port = await freePort('127.0.0.1');
    expect(port).toBeGreaterThan(0);
    const server = http.createServer();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    await new Promise<void>((r) => server.close(() => r()));
  });
});

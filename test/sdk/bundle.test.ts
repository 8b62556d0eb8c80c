import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('the browser-safe SDK', () => {
  it('bundles for the browser from sdk/index.ts: no node builtins, no AWS SDK, no zod, no server code', async () => {
    const out = await build({
      entryPoints: [`${ROOT}sdk/index.ts`],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(out.metafile.inputs);
    expect(inputs.length).toBeGreaterThan(5);
    expect(inputs.every((i) => i.startsWith('sdk/'))).toBe(true);
    expect(inputs).not.toContain('sdk/node.ts');
    const code = out.outputFiles[0]!.text;
    expect(code).not.toMatch(/from ["']node:|require\(["']/);
  });

  it('fails for the node module, which reads files and signs with the AWS SDK (the check above can fail)', async () => {
    await expect(
      build({
        entryPoints: [`${ROOT}sdk/node.ts`],
        bundle: true,
        platform: 'browser',
        format: 'esm',
        write: false,
        logLevel: 'silent',
      }),
    ).rejects.toThrow(/node:crypto|node:fs/);
  });
});

/**
 * The local cluster runs the model server as the container does: one esbuild bundle of serving/main.ts run by plain
 * node, rather than TypeScript through tsx (which costs start-up time and throughput). Built at every platform start
 * (a fraction of a second), so it always matches the sources; placed under node_modules so that the packages it leaves
 * external (onnxruntime-node, the AWS SDK) resolve from the project.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Builds the bundle and answers the command that runs it. */
export async function buildModelServerCommand(): Promise<string[]> {
  const outfile = join(ROOT, 'node_modules', '.cache', 'merlin', 'serving', 'main.mjs');
  mkdirSync(dirname(outfile), { recursive: true });
  await build({
    entryPoints: [join(ROOT, 'serving', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: `node${process.versions.node.split('.')[0]}`,
    sourcemap: true,
    legalComments: 'none',
    external: ['onnxruntime-node', '@aws-sdk/*'],
    banner: {
      js: "import { createRequire as __merlinCreateRequire } from 'node:module'; const require = __merlinCreateRequire(import.meta.url);",
    },
    logLevel: 'silent',
  });
  return [process.execPath, '--enable-source-maps', outfile];
}

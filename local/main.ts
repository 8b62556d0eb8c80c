/**
 * `npm start`: the local platform. Options: --port (or PORT, default 8080), --host (default 127.0.0.1),
 * --data-dir (default .merlin), --config (default merlin.config.json when present).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    'data-dir': { type: 'string' },
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});

if (values.help) {
  console.log(
    `Usage: npm start -- [--port 8080] [--host 127.0.0.1] [--data-dir .merlin] [--config merlin.config.json]`,
  );
  process.exit(0);
}

const portText = values.port ?? process.env.PORT ?? '8080';
const port = Number(portText);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be an integer between 0 and 65535, got "${portText}"`);
  process.exit(2);
}
const dataDir = resolve(values['data-dir'] ?? '.merlin');
const log = (line: string) => console.log(`[merlin] ${line}`);

// Before any AWS SDK module loads: the SDK warns about Node 20 at import time.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const { startPlatform } = await import('./platform.js');

try {
  const platform = await startPlatform({
    port,
    ...(values.host !== undefined && { host: values.host }),
    dataDir,
    configPath: resolve(values.config ?? 'merlin.config.json'),
    log,
  });
  for (const [env, report] of Object.entries(platform.recovery)) {
    for (const name of report.restored) log(`restored ${name} in ${env}`);
    for (const f of report.failed) log(`could not restore ${f.endpoint} in ${env}: ${f.reason}`);
    for (const id of report.interrupted) log(`deployment ${id} was interrupted by the restart and is marked failed`);
  }
  console.log(`Merlin local platform ready
  API:      ${platform.apiUrl}
${Object.entries(platform.servingUrls)
  .map(([env, url]) => `  Serving:  ${url}  (environment "${env}")`)
  .join('\n')}
  Data:     ${dataDir}
Press Ctrl+C to stop.`);

  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) process.exit(1);
    log(`${signal}: stopping model servers and emulators…`);
    platform.stop().then(
      () => process.exit(0),
      (e) => {
        console.error(e);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
} catch (e) {
  console.error(`merlin: could not start the local platform: ${(e as Error).message}`);
  process.exit(1);
}

/**
 * The `cdk` entry (cdk.json): `npx cdk synth -c stage=dev`. Environments come from merlin.config.json at the
 * repository root when it exists (DESIGN §7). Synth is offline: functions are bundled by the local esbuild.
 */
import { App } from 'aws-cdk-lib';
import { buildApp } from './build-app.js';
import { CONFIG_FILE, ConfigError, readMerlinConfig } from './config.js';

const app = new App();
try {
  buildApp({
    app,
    stage: app.node.tryGetContext('stage') ?? 'dev',
    config: readMerlinConfig(),
    configSource: CONFIG_FILE,
  });
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`merlin: ${err.message}`);
  process.exit(1);
}
app.synth();

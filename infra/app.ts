/**
 * The `cdk` entry (cdk.json): `npx cdk synth -c stage=dev`. Environments and stage settings come from
 * merlin.config.json at the repository root when it exists (DESIGN §7). Synth is offline: functions are bundled by the
 * local esbuild. `-c nag=true` also runs cdk-nag's AwsSolutions pack (a dev dependency; the infra tests always do).
 */
import { App, Validations } from 'aws-cdk-lib';
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
if (String(app.node.tryGetContext('nag')) === 'true') {
  const { AwsSolutionsChecks } = await import('cdk-nag');
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}
app.synth();

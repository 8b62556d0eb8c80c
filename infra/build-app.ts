import { App, Tags } from 'aws-cdk-lib';
import type { BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { BUNDLING_STACKS } from 'aws-cdk-lib/cx-api';
import { DEFAULT_ENVIRONMENTS } from '../core/environments.js';
import { cdkJsonContext, environmentsJson, type MerlinConfig, servingConfig, stageSettings } from './config.js';
import { ApiStack } from './stacks/api-stack.js';
import { DataStack } from './stacks/data-stack.js';
import { ServingStack } from './stacks/serving-stack.js';
import { WorkflowStack } from './stacks/workflow-stack.js';

export interface BuildAppOptions {
  /** An existing app (the CLI entry passes the one carrying its context); a new one otherwise. */
  app?: App;
  /** `dev` unless given; names stacks `Merlin-<stage>-*`; its settings: defaults, then config `stages`, then context. */
  stage?: string;
  /** The environments config; the built-in single `local` environment unless given. */
  config?: MerlinConfig;
  /** Where `config` came from, for error messages. */
  configSource?: string;
  /** false skips esbuild (the template is the same apart from asset hashes): for structure-only tests. */
  bundle?: boolean;
  /** Bundle only the functions of these stacks (names or globs, e.g. `Merlin-dev-Api`); all by default. */
  bundleStacks?: string[];
  /** Extra bundling options for every function (tests ask for esbuild metafiles). */
  bundling?: BundlingOptions;
}

export interface MerlinApp {
  app: App;
  data: DataStack;
  serving: ServingStack;
  workflow: WorkflowStack;
  api: ApiStack;
}

/**
 * A CDK app with the context of cdk.json (as the CLI would give it). `bundle: false` skips esbuild (templates are
 * the same apart from asset hashes), for structure-only tests; `bundleStacks` limits it to some stacks.
 */
export const newApp = (options: Pick<BuildAppOptions, 'bundle' | 'bundleStacks'> = {}): App => {
  const bundling = options.bundle === false ? [] : options.bundleStacks;
  return new App({ context: { ...cdkJsonContext(), ...(bundling ? { [BUNDLING_STACKS]: bundling } : {}) } });
};

/**
 * The whole AWS app: DataStack (table, bucket) → ServingStack (model images repository, image builds) →
 * WorkflowStack (task functions, state machines) → ApiStack (HTTP API, route functions). Used by infra/app.ts (the
 * `cdk` entry) and by the tests, in-process.
 */
export const buildApp = (options: BuildAppOptions = {}): MerlinApp => {
  const app = options.app ?? newApp(options);
  const config = options.config ?? { environments: DEFAULT_ENVIRONMENTS };
  const settings = stageSettings(options.stage ?? 'dev', {
    file: config.stages,
    context: app.node.tryGetContext('stages'),
    ...(options.configSource && { fileName: options.configSource }),
  });
  const environments = environmentsJson(config, options.configSource);
  const images = servingConfig(
    config,
    { modelServerImage: app.node.tryGetContext('modelServerImage') },
    options.configSource,
  );
  const env = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };

  const data = new DataStack(app, `${settings.prefix}-Data`, {
    env,
    settings,
    description: `Merlin ${settings.stage}: control-plane table, artifacts bucket and secrets key`,
  });
  const serving = new ServingStack(app, `${settings.prefix}-Serving`, {
    env,
    settings,
    bucket: data.bucket,
    imageBuildArchitecture: images.imageBuildArchitecture,
    // An image named in the config or on the command line wins over building one.
    modelServerImageAsset: settings.modelServerImageAsset && !images.modelServerImage,
    description: `Merlin ${settings.stage}: model images repository and the image builds (CodeBuild)`,
  });
  const workflow = new WorkflowStack(app, `${settings.prefix}-Workflow`, {
    env,
    settings,
    table: data.table,
    bucket: data.bucket,
    secretsKey: data.secretsKey,
    environmentsJson: environments,
    imageBuild: { project: serving.imageBuild, repository: serving.repository },
    ...(images.modelServerImage
      ? { modelServerImage: images.modelServerImage }
      : serving.modelServerImage && { modelServerImage: serving.modelServerImage.imageUri }),
    bundling: options.bundling,
    description: `Merlin ${settings.stage}: deployment workflows (Step Functions) and their task functions`,
  });
  const api = new ApiStack(app, `${settings.prefix}-Api`, {
    env,
    settings,
    table: data.table,
    bucket: data.bucket,
    stateMachines: workflow.stateMachines,
    secretsKey: data.secretsKey,
    environmentsJson: environments,
    bundling: options.bundling,
    description: `Merlin ${settings.stage}: control-plane HTTP API and its route functions`,
  });

  Tags.of(app).add('merlin:stage', settings.stage);
  return { app, data, serving, workflow, api };
};

import path from 'node:path';
import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import {
  type BundlingOptions,
  LogLevel,
  NodejsFunction,
  type NodejsFunctionProps,
  OutputFormat,
} from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { ENV_NAMES } from '../../functions/shared/env.js';
import { acknowledge, XRAY_REASON } from '../acknowledgments.js';
import { REPO_ROOT } from '../config.js';

/**
 * Packages a function bundle must never contain: the model runtime (native, 288 MB) and the embedded emulators of
 * the local platform. Handlers do not import them; marking them external keeps a stray import from dragging them in
 * (the bundle test checks that no bundle references them at all).
 */
export const NEVER_BUNDLED = ['onnxruntime-node', 'dynalite', 's3rver', 'aws-local-stepfunctions'] as const;

/** ESM bundles have no `require`; some CommonJS dependencies call it. */
const REQUIRE_BANNER = "import { createRequire } from 'module';const require = createRequire(import.meta.url);";

const DEFAULT_ENVIRONMENT: Readonly<Record<string, string>> = {
  NODE_OPTIONS: '--enable-source-maps',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

/** Set by Lambda itself; the function contract (functions/shared/env.ts) reads it but infra must not set it. */
const RESERVED = new Set(['AWS_REGION']);

const definedOnly = <T extends object>(props: T): Partial<T> =>
  Object.fromEntries(Object.entries(props).filter(([, value]) => value !== undefined)) as Partial<T>;

export interface MerlinFunctionProps
  extends Omit<
    NodejsFunctionProps,
    | 'entry'
    | 'environment'
    | 'bundling'
    | 'runtime'
    | 'architecture'
    | 'tracing'
    | 'logGroup'
    | 'logRetention'
    | 'projectRoot'
    | 'depsLockFilePath'
    | 'role'
  > {
  /** Handler file relative to the repository root, e.g. `functions/api/get-health.ts`; it exports `handler`. */
  entry: string;
  /** Merged over the defaults, never replacing them. */
  environment?: Record<string, string>;
  /** Merged over the defaults; `externalModules` are added to the never-bundled list. */
  bundling?: BundlingOptions;
  logRetention: logs.RetentionDays;
  logRemovalPolicy: RemovalPolicy;
  /**
   * The optional AWS clients the bundle carries (functions/shared/container.ts); the others are left out of it. The
   * bindings that need one (secrets key, image repository, cluster access) refuse a function without it.
   */
  awsClients?: Partial<AwsClients>;
}

/** Optional AWS clients of the composition root: EKS (clusters), KMS (secrets), ECR (built images). */
export interface AwsClients {
  eks: boolean;
  kms: boolean;
  ecr: boolean;
}

/** esbuild `define`s that leave the clients a function does not use out of its bundle. */
export const awsClientDefines = (clients: AwsClients): Record<string, string> =>
  Object.fromEntries(
    (Object.entries(clients) as [keyof AwsClients, boolean][])
      .filter(([, bundled]) => !bundled)
      .map(([client]) => [`globalThis.MERLIN_WITHOUT_${client.toUpperCase()}`, 'true']),
  );

/**
 * Every Lambda of Merlin: Node 22 on ARM64, an ESM bundle built by the local esbuild (no Docker), X-Ray active, an
 * explicit log group with retention, 30 s / 512 MB unless overridden. At synth it checks that the function got every
 * variable of the function environment contract (functions/shared/env.ts): a missing one would fail at cold start.
 */
export class MerlinFunction extends NodejsFunction {
  /** Absolute path of the handler file the bundle is built from. */
  readonly entry: string;
  /** The optional AWS clients its bundle carries. */
  readonly awsClients: AwsClients;

  constructor(scope: Construct, id: string, props: MerlinFunctionProps) {
    super(scope, id, MerlinFunction.withDefaults(scope, id, props));
    this.entry = path.resolve(REPO_ROOT, props.entry);
    this.awsClients = MerlinFunction.clientsOf(props);
    this.node.addValidation({ validate: () => this.missingEnvironment() });
    acknowledge(
      this,
      'AwsSolutions-L1',
      'Node.js 22 is the runtime Merlin targets (DESIGN §2-3: ARM64, Node 22; bundles built with target node22); moving to a newer runtime is a deliberate upgrade, not a default.',
    );
    acknowledge(this.role!, 'AwsSolutions-IAM5[Resource::*]', XRAY_REASON);
  }

  private static clientsOf(props: MerlinFunctionProps): AwsClients {
    return { eks: false, kms: false, ecr: false, ...props.awsClients };
  }

  /** Throws unless the bundle carries `client`: a binding that hands the function a variable for it calls this. */
  static requireClient(fn: unknown, client: keyof AwsClients, binding: string): void {
    if (fn instanceof MerlinFunction && !fn.awsClients[client]) {
      throw new Error(
        `${fn.node.path}: ${binding} needs the ${client.toUpperCase()} client, which its bundle leaves out (awsClients.${client})`,
      );
    }
  }

  private static withDefaults(scope: Construct, id: string, props: MerlinFunctionProps): NodejsFunctionProps {
    const { entry, environment, bundling, logRetention, logRemovalPolicy, awsClients: _clients, ...rest } = props;
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: logRetention,
      removalPolicy: logRemovalPolicy,
    });
    // Its own role instead of AWSLambdaBasicExecutionRole (which may write to every log group of the account): it
    // writes to its own log group only. Bindings (constructs/bindings.ts) add exactly what the function uses.
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Merlin function ${id}: its log group and what its bindings grant`,
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    // An override given as `undefined` (e.g. `timeout: TIMEOUTS[key]`) keeps the default instead of erasing it.
    const overrides = definedOnly(rest);
    return {
      timeout: Duration.seconds(30),
      memorySize: 512,
      ...overrides,
      entry: path.resolve(REPO_ROOT, entry),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      tracing: lambda.Tracing.ACTIVE,
      logGroup,
      role,
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      environment: { ...DEFAULT_ENVIRONMENT, ...environment },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        banner: REQUIRE_BANNER,
        logLevel: LogLevel.WARNING,
        forceDockerBundling: false,
        ...definedOnly(bundling ?? {}),
        define: { ...awsClientDefines(MerlinFunction.clientsOf(props)), ...bundling?.define },
        externalModules: [...NEVER_BUNDLED, ...(bundling?.externalModules ?? [])],
      },
    };
  }

  private missingEnvironment(): string[] {
    const cfn = this.node.defaultChild as lambda.CfnFunction;
    const rendered = Stack.of(this).resolve(cfn.environment) as { variables?: Record<string, unknown> } | undefined;
    const present = new Set(Object.keys(rendered?.variables ?? {}));
    const missing = ENV_NAMES.filter((name) => !RESERVED.has(name) && !present.has(name));
    return missing.length === 0
      ? []
      : [`function environment contract (functions/shared/env.ts) not met, missing: ${missing.join(', ')}`];
  }
}

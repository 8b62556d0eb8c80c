/**
 * `merlin`: the command line on top of the SDK. `run(argv, io)` is the whole program (the tests call it as the bin
 * does); `bin/merlin.mjs` runs it with the process's arguments and exits with its code.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { Deployment } from '../../core/schemas/deployment.js';
import type { ModelEndpoint, RouteRule, VersionEndpoint } from '../../core/schemas/endpoint.js';
import type { ModelType } from '../../core/schemas/model.js';
import type { CreateVersionBody } from '../../core/schemas/version.js';
import type { Merlin, V1Request, V2Request } from '../client.js';
import { DEFAULT_URL } from '../client.js';
import { DeploymentFailedError, MerlinApiError } from '../errors.js';
import { formatBytes, formatRule } from '../format.js';
import { AUTH_MODES, type AuthMode, createMerlin, filesFrom } from '../node.js';
import type { PagedList } from '../pages.js';
import type { ModelRef, VersionRef } from '../types.js';
import { eachLimited } from '../upload.js';
import { EXIT, type Io, Output, table, UsageError } from './output.js';

const HELP = `merlin — deploy and serve models on Merlin Serverless

Usage: merlin <command> [options]

  deploy <path> --project p --model m [--type onnx|xgboost|function|custom] [--env e] [--serve]
        create the project and model if missing, log a new version with the file or directory at <path>,
        deploy it and (--serve) send the model endpoint's traffic to it. Also: --label k=v (repeatable),
        --cpu 500m, --memory 512Mi, --model-file f, --command '["node","server.mjs"]' (custom), --timeout s
  predict p/m[@v] --data '<json>' | --file f [--protocol v1|v2] [--route-key k] [--env e]
        a prediction through the model endpoint (or version v's); a JSON array is sent as V1 "instances"
  serve p/m --to 3=90,4=10 [--mirror 5:10] [--env e]
        set the model endpoint's traffic split (weights in %), mirroring a percentage to a shadow version
  undeploy p/m@v [--env e]
  logs p/m@v [--env e] [--tail 100] [--since 15m]
  projects list [--search prefix]
  models list <project> [--search prefix]
  versions list p/m [--label team=ds]
  endpoints list p/m[@v] [--env e]
  environments list
  deployments watch <id> | get <id> | list p/m@v [--env e]

Options for every command (before or after it):
  --url <url>      the platform (default $MERLIN_URL, else ${DEFAULT_URL})
  --token <jwt>    a bearer token (default $MERLIN_TOKEN)
  --auth <mode>    auto (default; $MERLIN_AUTH): the token if given, SigV4 for *.execute-api.* URLs, else none;
                   sigv4: sign with the AWS credential chain (e.g. a custom domain in front of an IAM-authorized
                   API); bearer: the token, required; none
  --region <r>     the SigV4 region (default: the API Gateway URL's, else $AWS_REGION, else $AWS_DEFAULT_REGION)
  --json           one JSON document on stdout (errors as {"error": …} on stderr)
  --limit <n>      lists: at most n items (default 100; --all for every one)
  --timeout <s>    how long to follow a deployment before exiting 3 (it goes on on the server)
  -h, --help

Exit codes: 0 done, 1 refused or failed (the server's reason is printed), 2 usage, 3 timed out (still going on the
server), 4 platform unreachable.
`;

type Options = NonNullable<ParseArgsConfig['options']>;
const GLOBAL: Options = {
  url: { type: 'string' },
  token: { type: 'string' },
  auth: { type: 'string' },
  region: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  env: { type: 'string' },
  limit: { type: 'string' },
  all: { type: 'boolean' },
  timeout: { type: 'string' },
};
const COMMAND_OPTIONS: Record<string, Options> = {
  deploy: {
    project: { type: 'string', short: 'p' },
    model: { type: 'string', short: 'm' },
    type: { type: 'string', short: 't' },
    serve: { type: 'boolean' },
    label: { type: 'string', multiple: true },
    cpu: { type: 'string' },
    memory: { type: 'string' },
    'model-file': { type: 'string' },
    command: { type: 'string' },
    protocol: { type: 'string' },
  },
  predict: {
    data: { type: 'string', short: 'd' },
    file: { type: 'string', short: 'f' },
    protocol: { type: 'string' },
    'route-key': { type: 'string' },
  },
  serve: { to: { type: 'string' }, mirror: { type: 'string' } },
  logs: { tail: { type: 'string' }, since: { type: 'string' } },
  projects: { search: { type: 'string' } },
  models: { search: { type: 'string' } },
  versions: { label: { type: 'string', multiple: true } },
};

type Values = Record<string, string | boolean | string[] | undefined>;

interface Ctx {
  merlin: Merlin;
  out: Output;
  values: Values;
  args: string[];
  io: Io;
}

const str = (v: Values, k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
const list = (v: Values, k: string): string[] => (Array.isArray(v[k]) ? (v[k] as string[]) : []);

function int(text: string | undefined, what: string, min = 1): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < min)
    throw new UsageError(`${what} must be an integer ≥ ${min}, got "${text}"`);
  return Number(text);
}

/** `p/m` → model; `p/m@v` → version (when `version` is 'required' or 'optional'). */
function parseRef(
  text: string | undefined,
  version: 'none' | 'optional' | 'required',
): ModelRef & { version?: number } {
  const shape =
    version === 'none' ? 'project/model' : version === 'required' ? 'project/model@version' : 'project/model[@version]';
  const m = text === undefined ? null : /^([^/@\s]+)\/([^/@\s]+)(?:@(\d+))?$/.exec(text);
  if (!m) throw new UsageError(`expected ${shape}, got ${text === undefined ? 'nothing' : `"${text}"`}`);
  if (m[3] !== undefined && version === 'none') throw new UsageError(`expected ${shape} (no version), got "${text}"`);
  if (m[3] === undefined && version === 'required') throw new UsageError(`expected ${shape}, got "${text}"`);
  const ref = { project: m[1] as string, model: m[2] as string };
  if (m[3] !== undefined && Number(m[3]) < 1)
    throw new UsageError(`expected ${shape}: versions start at 1, got "${text}"`);
  return m[3] === undefined ? ref : { ...ref, version: Number(m[3]) };
}

const versionRef = (text: string | undefined): VersionRef => parseRef(text, 'required') as VersionRef;

/** `--label team=ds` (or `team:ds`, as the API's query writes it), repeated. */
function parseLabels(texts: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const l of texts) {
    const i = l.search(/[=:]/);
    if (i <= 0) throw new UsageError(`--label must be key=value, got "${l}"`);
    labels[l.slice(0, i)] = l.slice(i + 1);
  }
  return labels;
}

const timeoutOf = (v: Values): number | undefined => {
  const s = int(str(v, 'timeout'), '--timeout');
  return s === undefined ? undefined : s * 1000;
};

async function collect<T>(items: PagedList<T>, v: Values, out: Output, what?: string): Promise<T[]> {
  const max = v.all ? Number.POSITIVE_INFINITY : (int(str(v, 'limit'), '--limit') ?? 100);
  const got = await items.all(max + 1);
  if (got.length > max) out.note(`(the first ${max}${what ? ` ${what}` : ''}; --limit n or --all for more)`);
  return got.slice(0, max);
}

const when = (iso: string) => iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '');
const kv = (r: Record<string, unknown>) =>
  Object.entries(r)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

// ---- deploy --------------------------------------------------------------------------------------------------------

const CONVENTIONS: [string, ModelType][] = [
  ['model.onnx', 'onnx'],
  ['model.json', 'xgboost'],
  ['index.mjs', 'function'],
  ['index.js', 'function'],
];

/** The model type a path looks like: by extension for a file, by its files' conventional names for a directory. */
async function guessType(path: string): Promise<ModelType | undefined> {
  const s = await stat(path);
  if (s.isFile()) {
    if (path.endsWith('.onnx')) return 'onnx';
    if (path.endsWith('.json')) return 'xgboost';
    if (/\.m?js$/.test(path)) return 'function';
    return undefined;
  }
  for (const [file, type] of CONVENTIONS) {
    if (
      await stat(join(path, file)).then(
        (f) => f.isFile(),
        () => false,
      )
    )
      return type;
  }
  return undefined;
}

function parseCommand(text: string): string[] {
  if (text.trimStart().startsWith('[')) {
    let argv: unknown;
    try {
      argv = JSON.parse(text);
    } catch (e) {
      throw new UsageError(`--command looks like a JSON array but is not JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string')) {
      throw new UsageError('--command must be a JSON array of strings or a plain command line');
    }
    return argv;
  }
  return text.split(/\s+/).filter(Boolean);
}

async function deploy({ merlin, out, values, args }: Ctx): Promise<number> {
  const path = args[0];
  if (!path || args.length > 1) throw new UsageError('deploy takes one <path> (a model file or a directory)');
  const project = str(values, 'project');
  const model = str(values, 'model');
  if (!project || !model) throw new UsageError('deploy needs --project and --model');
  const typeArg = str(values, 'type');
  const types = ['onnx', 'xgboost', 'function', 'custom'];
  if (typeArg !== undefined && !types.includes(typeArg)) {
    throw new UsageError(`--type must be one of ${types.join(', ')}, got "${typeArg}"`);
  }
  const labels = parseLabels(list(values, 'label'));
  // Checked before anything is created: a mistake here must not leave a project and a model behind.
  const command = str(values, 'command');
  const commandArgv = command === undefined ? undefined : parseCommand(command);
  const protocolArg = str(values, 'protocol');
  if (protocolArg !== undefined && protocolArg !== 'v1' && protocolArg !== 'v2') {
    throw new UsageError('--protocol must be v1 or v2');
  }
  const files = await filesFrom(path);
  if (files.length === 0) throw new UsageError(`${path} holds no files to upload`);
  const single = (await stat(path)).isFile();
  const timeoutMs = timeoutOf(values);
  const env = str(values, 'env');

  out.line(`Deploying ${path} as ${project}/${model} on ${merlin.url}`);
  let t = Date.now();
  const p = await merlin.projects.ensure({ name: project });
  out.done(`Project ${project}`, Date.now() - t, p.created ? 'created' : 'exists');

  t = Date.now();
  let type = typeArg as ModelType | undefined;
  let m: Awaited<ReturnType<Merlin['models']['get']>> & { created?: boolean };
  try {
    m = { ...(await merlin.models.get({ project, model })), created: false };
  } catch (e) {
    if (!(e instanceof MerlinApiError && e.status === 404)) throw e;
    type ??= await guessType(path);
    if (!type) throw new UsageError(`cannot tell the model type from ${path}: give --type ${types.join('|')}`);
    m = await merlin.models.ensure(project, { name: model, type });
  }
  if (type !== undefined && m.type !== type) {
    throw new UsageError(
      `model ${project}/${model} has type "${m.type}", not "${type}": drop --type or pick another model`,
    );
  }
  out.done(`Model ${project}/${model}`, Date.now() - t, `${m.created ? 'created' : 'exists'}, ${m.type}`);

  const body: CreateVersionBody = { ...(Object.keys(labels).length > 0 && { labels }) };
  const modelFile = str(values, 'model-file') ?? (single && m.type !== 'custom' ? basename(path) : undefined);
  if (modelFile) body.modelFile = modelFile;
  if (m.type === 'custom') {
    if (!commandArgv?.length) {
      throw new UsageError('a custom model needs --command (what to run in the artifact directory)');
    }
    body.custom = { command: commandArgv, protocol: (protocolArg ?? 'v2') as 'v1' | 'v2' };
  } else if (command) {
    throw new UsageError(`--command is for custom models; ${project}/${model} is ${m.type}`);
  }

  const version = await merlin.logModel({ project, model }, { files, version: body, onProgress: out.progress });
  const ref: VersionRef = { project, model, version: version.version };
  const resources = {
    ...(str(values, 'cpu') && { cpu: str(values, 'cpu') }),
    ...(str(values, 'memory') && { memory: str(values, 'memory') }),
  };
  let endpoint: VersionEndpoint;
  let modelEndpoint: ModelEndpoint | undefined;
  try {
    endpoint = await merlin.deploy(ref, {
      ...(env && { environment: env }),
      ...(Object.keys(resources).length > 0 && { resources }),
      onProgress: out.progress,
      timeoutMs,
    });
    if (values.serve) {
      modelEndpoint = await merlin.serveTraffic(
        ref,
        { weights: { [ref.version]: 100 } },
        { environment: endpoint.environment, onProgress: out.progress, timeoutMs },
      );
    }
  } catch (e) {
    if (e instanceof DeploymentFailedError && e.deployment.kind === 'deploy') {
      out.note(`  the model server's output: merlin logs ${project}/${model}@${ref.version}`);
    }
    throw e;
  }
  if (modelEndpoint) endpoint = await merlin.endpoints.get(ref, endpoint.environment); // now serving
  out.line();
  out.line(`Version endpoint  ${endpoint.url}  (${endpoint.status})`);
  if (modelEndpoint) {
    out.line(
      `Model endpoint    ${modelEndpoint.url}  (${modelEndpoint.rule ? formatRule(modelEndpoint.rule) : 'no rule'})`,
    );
    if (!out.json)
      out.note(`Predict:  npx merlin predict ${project}/${model} --data '${await exampleRequest(merlin, ref)}'`);
  } else {
    out.note(`Serve it: npx merlin serve ${project}/${model} --to ${ref.version}=100`);
  }
  out.result({
    project,
    model,
    version: ref.version,
    type: m.type,
    created: { project: p.created, model: m.created ?? false },
    artifact: version.artifact,
    endpoint,
    modelEndpoint: modelEndpoint ?? null,
    steps: out.steps,
  });
  return EXIT.ok;
}

/** A request of the right shape for the hint after a deploy: zeros for a single `[-1, n]` input, else a placeholder. */
async function exampleRequest(merlin: Merlin, ref: VersionRef): Promise<string> {
  try {
    const { inputs } = await merlin.metadata(ref);
    const shape = inputs.length === 1 ? inputs[0]?.shape : undefined;
    const numeric = inputs[0] && !/BYTES|BOOL/.test(inputs[0].datatype);
    if (shape?.length === 2 && numeric && (shape[1] ?? 0) > 0 && (shape[1] ?? 0) <= 64) {
      return JSON.stringify([Array.from({ length: shape[1] as number }, () => 0)]);
    }
  } catch {
    // no metadata (e.g. a custom model speaking V1 only): the placeholder
  }
  return '<request JSON>';
}

// ---- predict, serve, undeploy, logs ---------------------------------------------------------------------------------

async function predict({ merlin, out, values, args, io }: Ctx): Promise<number> {
  const ref = parseRef(args[0], 'optional');
  const data = str(values, 'data');
  const file = str(values, 'file');
  if ((data === undefined) === (file === undefined))
    throw new UsageError('predict needs --data <json> or --file <path>');
  let text: string;
  try {
    text = data ?? (await readFile(file as string, 'utf8'));
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new UsageError(
      code === 'ENOENT' ? `--file ${file}: no such file` : `--file ${file}: ${(e as Error).message}`,
    );
  }
  let request: unknown;
  try {
    request = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`the request is not JSON (${(e as Error).message})`);
  }
  if (Array.isArray(request)) request = { instances: request };
  if (!request || typeof request !== 'object') throw new UsageError('the request must be a JSON object or array');
  const protocol = str(values, 'protocol');
  if (protocol !== undefined && protocol !== 'v1' && protocol !== 'v2')
    throw new UsageError('--protocol must be v1 or v2');
  const routeKey = str(values, 'route-key');
  const env = str(values, 'env');
  const res = await merlin.predict({ ...ref, ...(env && { environment: env }) }, request as V1Request | V2Request, {
    ...(protocol && { protocol }),
    ...(routeKey && { routeKey }),
  });
  if (out.json) {
    out.result({ version: res.version ?? null, protocol: res.protocol, url: res.url, response: res.body });
  } else {
    io.stdout(`${pretty(res.body)}\n`);
    out.note(`answered by ${ref.project}/${ref.model}@${res.version ?? '?'} (${res.protocol})`);
  }
  return EXIT.ok;
}

/** JSON indented by object, with arrays of numbers or strings (a row, a tensor's data) kept on one line. */
export function pretty(v: unknown, indent = ''): string {
  const inner = `${indent}  `;
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    if (v.every((x) => x === null || typeof x !== 'object')) return `[${v.map((x) => JSON.stringify(x)).join(', ')}]`;
    return `[\n${v.map((x) => `${inner}${pretty(x, inner)}`).join(',\n')}\n${indent}]`;
  }
  if (v && typeof v === 'object') {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined);
    if (entries.length === 0) return '{}';
    return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${pretty(x, inner)}`).join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** `3=90,4=10` → destinations; `5:10` → mirror (versions ≥ 1, each once; weights add up to 100; percent 0-100). */
export function parseSplit(to: string | undefined, mirror: string | undefined): RouteRule {
  if (!to) throw new UsageError('serve needs --to version=weight[,version=weight…], e.g. --to 3=90,4=10');
  const destinations = to.split(',').map((part) => {
    const m = /^\s*(\d+)\s*=\s*(\d+)\s*$/.exec(part);
    if (!m) throw new UsageError(`--to: "${part}" is not version=weight (e.g. 3=90)`);
    const d = { version: Number(m[1]), weight: Number(m[2]) };
    if (d.version < 1) throw new UsageError(`--to: "${part.trim()}": versions start at 1`);
    return d;
  });
  const twice = destinations.find((d, i) => destinations.findIndex((x) => x.version === d.version) !== i);
  if (twice) throw new UsageError(`--to: version ${twice.version} is given twice`);
  const sum = destinations.reduce((n, d) => n + d.weight, 0);
  if (sum !== 100) throw new UsageError(`--to: the weights add up to ${sum}, not 100`);
  if (mirror === undefined) return { destinations };
  const m = /^\s*(\d+)\s*:\s*(\d+(?:\.\d+)?)\s*$/.exec(mirror);
  if (!m) throw new UsageError(`--mirror: "${mirror}" is not version:percent (e.g. 5:10)`);
  const shadow = { version: Number(m[1]), percent: Number(m[2]) };
  if (shadow.version < 1) throw new UsageError(`--mirror: "${mirror}": versions start at 1`);
  if (shadow.percent > 100) throw new UsageError(`--mirror: "${mirror}": the percent is at most 100`);
  return { destinations, mirror: shadow };
}

async function serve({ merlin, out, values, args }: Ctx): Promise<number> {
  const ref = parseRef(args[0], 'none');
  const rule = parseSplit(str(values, 'to'), str(values, 'mirror'));
  const env = str(values, 'env');
  const me = await merlin.serveTraffic(ref, rule, {
    ...(env && { environment: env }),
    onProgress: out.progress,
    timeoutMs: timeoutOf(values),
  });
  out.line(`Model endpoint ${me.url}: ${me.rule ? formatRule(me.rule) : 'no rule'}`);
  out.result({ ...me, steps: out.steps });
  return EXIT.ok;
}

async function undeploy({ merlin, out, values, args }: Ctx): Promise<number> {
  const ref = versionRef(args[0]);
  const env = str(values, 'env');
  const d = await merlin.undeploy(ref, {
    ...(env && { environment: env }),
    onProgress: out.progress,
    timeoutMs: timeoutOf(values),
  });
  out.line(`${ref.project}/${ref.model}@${ref.version} is undeployed from ${d.environment}`);
  out.result({ deployment: d, steps: out.steps });
  return EXIT.ok;
}

async function logs({ merlin, out, values, args, io }: Ctx): Promise<number> {
  const ref = versionRef(args[0]);
  const env = str(values, 'env');
  const tail = int(str(values, 'tail'), '--tail');
  const since = str(values, 'since');
  const l = await merlin.endpoints.logs(ref, {
    ...(env && { environment: env }),
    ...(tail && { tail }),
    ...(since && { since }),
  });
  if (out.json) out.result(l);
  else for (const line of l.lines) io.stdout(`${line}\n`);
  if (l.lines.length === 0) out.note(`(no output from revision ${l.revision})`);
  return EXIT.ok;
}

// ---- lists ----------------------------------------------------------------------------------------------------------

async function listProjects({ merlin, out, values }: Ctx): Promise<number> {
  const search = str(values, 'search');
  const items = await collect(merlin.projects.list({ pageSize: 100, ...(search && { search }) }), values, out);
  out.result(items);
  out.line(
    table(
      ['NAME', 'LABELS', 'CREATED'],
      items.map((p) => [p.name, kv(p.labels), when(p.createdAt)]),
    ),
  );
  return EXIT.ok;
}

async function listModels({ merlin, out, values, args }: Ctx): Promise<number> {
  const project = args[0];
  if (!project) throw new UsageError('models list needs a <project>');
  const search = str(values, 'search');
  const items = await collect(merlin.models.list(project, { pageSize: 100, ...(search && { search }) }), values, out);
  out.result(items);
  out.line(
    table(
      ['NAME', 'TYPE', 'VERSIONS', 'CREATED'],
      items.map((m) => [m.name, m.type, String(m.latestVersion), when(m.createdAt)]),
    ),
  );
  return EXIT.ok;
}

async function listVersions({ merlin, out, values, args }: Ctx): Promise<number> {
  const ref = parseRef(args[0], 'none');
  const label = parseLabels(list(values, 'label'));
  const items = await collect(
    merlin.versions.list(ref, { pageSize: 100, ...(Object.keys(label).length > 0 && { label }) }),
    values,
    out,
  );
  out.result(items);
  out.line(
    table(
      ['VERSION', 'ARTIFACT', 'LABELS', 'METRICS', 'CREATED'],
      items.map((v) => [
        String(v.version),
        v.artifact.status === 'complete'
          ? `${v.artifact.files.length} file(s), ${formatBytes(v.artifact.files.reduce((n, f) => n + f.size, 0))}`
          : 'pending',
        kv(v.labels),
        kv(v.metrics),
        when(v.createdAt),
      ]),
    ),
  );
  return EXIT.ok;
}

async function listEndpoints({ merlin, out, values, args }: Ctx): Promise<number> {
  const ref = parseRef(args[0], 'optional');
  const env = str(values, 'env');
  const inEnv = <T extends { environment: string }>(xs: T[]) => (env ? xs.filter((x) => x.environment === env) : xs);
  const modelEndpoints = ref.version === undefined ? inEnv(await merlin.modelEndpoints.list(ref).all()) : [];
  // --limit bounds the versions looked at (one request each), newest first as the API lists them
  const versions =
    ref.version === undefined
      ? (await collect(merlin.versions.list(ref, { pageSize: 100 }), values, out, 'versions')).map((v) => v.version)
      : [ref.version];
  // one request per version (the API lists endpoints per version), a few at a time, in the versions' order
  const perVersion = new Map<number, VersionEndpoint[]>();
  await eachLimited(versions, 8, async (version) => {
    perVersion.set(version, inEnv(await merlin.endpoints.list({ ...ref, version }).all()));
  });
  const versionEndpoints = versions.flatMap((v) => perVersion.get(v) ?? []);
  out.result({ modelEndpoints, versionEndpoints });
  out.line(
    table(
      ['ENDPOINT', 'ENV', 'STATUS', 'URL', 'ROUTE'],
      [
        ...modelEndpoints.map((e) => [
          `${e.project}/${e.model}`,
          e.environment,
          e.status,
          e.url,
          e.rule ? formatRule(e.rule) : '',
        ]),
        ...versionEndpoints
          .filter((e) => e.status !== 'terminated')
          .map((e) => [`${e.project}/${e.model}@${e.version}`, e.environment, e.status, e.url, e.message ?? '']),
      ],
    ),
  );
  return EXIT.ok;
}

async function listEnvironments({ merlin, out }: Ctx): Promise<number> {
  const items = await merlin.environments.list().all();
  out.result(items);
  out.line(
    table(
      ['NAME', 'DEFAULT', 'CLUSTER', 'SERVING URL'],
      items.map((e) => [e.name, e.isDefault ? 'yes' : '', e.cluster.kind, e.servingUrl]),
    ),
  );
  return EXIT.ok;
}

// ---- deployments -------------------------------------------------------------------------------------------------

function printDeployment(out: Output, d: Deployment) {
  const target = `${d.project}/${d.model}${d.version === undefined ? '' : `@${d.version}`}`;
  out.line(`Deployment ${d.id}: ${d.kind} of ${target} in ${d.environment}, ${d.status}`);
}

async function deployments(ctx: Ctx): Promise<number> {
  const { merlin, out, values, args } = ctx;
  const [sub, arg] = args;
  if (sub === 'watch' || sub === 'get') {
    if (!arg) throw new UsageError(`deployments ${sub} needs a deployment <id>`);
    if (sub === 'get') {
      const d = await merlin.deployments.get(arg);
      printDeployment(out, d);
      for (const s of d.steps) {
        if (s.status === 'pending') {
          out.line(`    · ${s.name} (not started)`);
          continue;
        }
        const took = s.startedAt && s.endedAt ? Date.parse(s.endedAt) - Date.parse(s.startedAt) : undefined;
        out.progress({
          type: 'step',
          step: s.name,
          status: s.status,
          depth: 1,
          ...(took !== undefined && { durationMs: took }),
          ...(s.error && { error: s.error }),
        });
      }
      if (d.error) out.line(`  error: ${d.error.message}`);
      out.result(d);
      return d.status === 'failed' ? EXIT.failed : EXIT.ok;
    }
    const initial = await merlin.deployments.get(arg);
    printDeployment(out, initial);
    const d = await merlin.deployments.watch(arg, { initial, onProgress: out.progress, timeoutMs: timeoutOf(values) });
    out.line(`  ${d.status}`);
    out.result(d);
    return EXIT.ok;
  }
  if (sub === 'list') {
    const ref = versionRef(arg);
    const items = await collect(merlin.endpoints.deployments(ref, str(values, 'env'), { pageSize: 100 }), values, out);
    out.result(items);
    out.line(
      table(
        ['ID', 'KIND', 'STATUS', 'CREATED', 'ERROR'],
        items.map((d) => [d.id, d.kind, d.status, when(d.createdAt), d.error?.message ?? '']),
      ),
    );
    return EXIT.ok;
  }
  throw new UsageError('deployments: use watch <id>, get <id> or list p/m@v');
}

// ---- dispatch ------------------------------------------------------------------------------------------------------

const LISTS: Record<string, (ctx: Ctx) => Promise<number>> = {
  projects: listProjects,
  models: listModels,
  versions: listVersions,
  endpoints: listEndpoints,
  environments: listEnvironments,
};
const COMMANDS: Record<string, (ctx: Ctx) => Promise<number>> = { deploy, predict, serve, undeploy, logs, deployments };

/**
 * Where the command is in `argv`: the first word that is not a global option or its value, so that global options
 * may come before it (`merlin --url X projects list`) as well as after.
 */
export function commandIndex(argv: string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') return i + 1 < argv.length ? i + 1 : -1;
    if (!a.startsWith('-') || a === '-') return i;
    if (a.includes('=')) continue; // --url=X
    const name = a.startsWith('--')
      ? a.slice(2)
      : Object.entries(GLOBAL).find(([, o]) => o.short !== undefined && `-${o.short}` === a)?.[0];
    if (name !== undefined && GLOBAL[name]?.type === 'string') i++; // its value
  }
  return -1;
}

/** The whole CLI: parses `argv` (without node and the script), runs the command, returns the exit code. */
export async function run(argv: string[], io: Io): Promise<number> {
  const at = commandIndex(argv);
  const command = at < 0 ? undefined : argv[at];
  const rest = at < 0 ? argv : [...argv.slice(0, at), ...argv.slice(at + 1)];
  const json = argv.includes('--json');
  const out = new Output(io, json);
  try {
    if (command === undefined || command === 'help') {
      const asked = command === 'help' || rest.includes('--help') || rest.includes('-h');
      io.stdout(HELP);
      return asked ? EXIT.ok : EXIT.usage;
    }
    const known = command in COMMANDS || command in LISTS;
    if (!known) throw new UsageError(`unknown command "${command}"`);
    let parsed: { values: Values; positionals: string[] };
    try {
      parsed = parseArgs({
        args: rest,
        options: { ...GLOBAL, ...COMMAND_OPTIONS[command] },
        allowPositionals: true,
        strict: true,
      }) as { values: Values; positionals: string[] };
    } catch (e) {
      throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
    }
    const { values, positionals } = parsed;
    if (values.help) {
      io.stdout(HELP);
      return EXIT.ok;
    }
    let args = positionals;
    if (command in LISTS) {
      if (args[0] !== 'list') throw new UsageError(`use: merlin ${command} list`);
      args = args.slice(1);
    }
    // An empty variable (MERLIN_URL= in a script) counts as unset.
    const url = str(values, 'url') || io.env.MERLIN_URL || DEFAULT_URL;
    const token = str(values, 'token') || io.env.MERLIN_TOKEN || undefined;
    const auth = str(values, 'auth') || io.env.MERLIN_AUTH || 'auto';
    if (!(AUTH_MODES as readonly string[]).includes(auth)) {
      throw new UsageError(`--auth must be one of ${AUTH_MODES.join(', ')}, got "${auth}"`);
    }
    const region = str(values, 'region') || undefined;
    let merlin: Merlin;
    try {
      merlin = createMerlin({ url, auth: auth as AuthMode, ...(token && { token }), ...(region && { region }) });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    io.onInterrupt?.(() => {
      process.exit(out.interrupted());
    });
    const ctx: Ctx = { merlin, out, values, args, io };
    return await (COMMANDS[command] ?? LISTS[command])!(ctx);
  } catch (e) {
    return out.fail(e);
  }
}

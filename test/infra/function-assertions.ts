import type { Template } from 'aws-cdk-lib/assertions';
import { expect } from 'vitest';
import { ENV_NAMES } from '../../functions/shared/env.js';
import type { MerlinFunction } from '../../infra/constructs/merlin-function.js';
import { logicalId, resource } from './template-helpers.js';

/** The MerlinFunction defaults every function of the app must show in its template. */
export const expectMerlinDefaults = (template: Template, fn: MerlinFunction, timeoutSeconds = 30): void => {
  const id = logicalId(fn);
  const props = resource(template, id).Properties;
  expect(props.Runtime, id).toBe('nodejs22.x');
  expect(props.Architectures, id).toEqual(['arm64']);
  expect(props.TracingConfig, id).toEqual({ Mode: 'Active' });
  expect(props.Handler, id).toBe('index.handler');
  expect(props.MemorySize, id).toBe(512);
  expect(props.Timeout, id).toBe(timeoutSeconds);

  const variables = (props.Environment as { Variables: Record<string, unknown> }).Variables;
  expect(variables.NODE_OPTIONS, id).toBe('--enable-source-maps');
  expect(variables.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED, id).toBe('true');
  for (const name of ENV_NAMES.filter((n) => n !== 'AWS_REGION'))
    expect(variables[name], `${id} ${name}`).toBeDefined();
  expect(variables.AWS_REGION, id).toBeUndefined();

  const logGroupRef = (props.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
  const logGroup = resource(template, logGroupRef);
  expect(logGroup.Type).toBe('AWS::Logs::LogGroup');
  expect(logGroup.Properties.RetentionInDays, id).toBeGreaterThan(0);
};

import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES } from '../../functions/api/routes.js';
import { buildApp, type MerlinApp } from '../../infra/build-app.js';
import { DECRYPTS_SECRETS } from '../../infra/stacks/workflow-stack.js';
import {
  actionsOf,
  followReference,
  logicalId,
  resource,
  resourcesOf,
  roleIdOf,
  roleStatements,
  type Statement,
  variablesOf,
} from './template-helpers.js';

/** Project secrets on AWS: the KMS key in the data stack, and who may use it for what. */
describe('Secrets key (DataStack) and its grants', () => {
  let dev: MerlinApp;
  let prod: MerlinApp;
  let templates: { data: Template; api: Template; workflow: Template };
  let producers: Record<string, Template>;
  beforeAll(() => {
    dev = buildApp({ stage: 'dev', bundle: false });
    prod = buildApp({ stage: 'prod', bundle: false });
    templates = {
      data: Template.fromStack(dev.data),
      api: Template.fromStack(dev.api),
      workflow: Template.fromStack(dev.workflow),
    };
    producers = { [dev.data.stackName]: templates.data };
  });

  const keyArn = () => ({ 'Fn::GetAtt': [logicalId(dev.data.secretsKey), 'Arn'] });
  const kmsStatements = (template: Template, fn: Parameters<typeof logicalId>[0]): Statement[] => {
    const role = roleIdOf(resource(template, logicalId(fn)).Properties.Role);
    // The artifacts bucket's key (through S3 only) is another key: see data-stack and api-stack tests.
    return roleStatements(template, role).filter(
      (s) =>
        actionsOf(s).some((a) => a.startsWith('kms:')) &&
        !JSON.stringify(followReference(resourcesOf(s)[0], producers)).includes(logicalId(dev.data.artifactsKey)),
    );
  };
  const expectOnlyKeyUse = (statements: Statement[], action: string) => {
    expect(statements).toHaveLength(1);
    const [statement] = statements as [Statement & { Condition?: unknown }];
    expect(actionsOf(statement)).toEqual([action]);
    expect(resourcesOf(statement).map((r) => followReference(r, producers))).toEqual([keyArn()]);
    expect(statement.Condition).toEqual({
      'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['merlin:project', 'merlin:secret'] },
      Null: { 'kms:EncryptionContextKeys': 'false' },
    });
  };

  it('should be a symmetric KMS key of its own with rotation on', () => {
    templates.data.resourceCountIs('AWS::KMS::Key', 2);
    expect(logicalId(dev.data.secretsKey)).not.toBe(logicalId(dev.data.artifactsKey));
    const key = resource(templates.data, logicalId(dev.data.secretsKey));
    expect(key.Properties.EnableKeyRotation).toBe(true);
    expect(key.Properties.KeySpec ?? 'SYMMETRIC_DEFAULT').toBe('SYMMETRIC_DEFAULT');
  });

  it('should be retained outside dev, and removable (after 7 days) in dev', () => {
    Template.fromStack(prod.data).hasResource('AWS::KMS::Key', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    templates.data.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Delete' });
    templates.data.hasResourceProperties('AWS::KMS::Key', { PendingWindowInDays: 7 });
  });

  it('should let only the group of the routes that encrypt secrets make data keys with it, and tell only it the key', () => {
    expect(API_ROUTES.filter((r) => r.encryptsSecrets).map((r) => r.entry)).toEqual(['put-secret']);
    const encrypting = new Set<string>(API_ROUTES.filter((r) => r.encryptsSecrets).map((r) => r.group));
    expect([...encrypting]).toEqual(['secrets']);
    for (const [entry, fn] of Object.entries(dev.api.functions)) {
      const variables = variablesOf(templates.api, fn);
      const statements = kmsStatements(templates.api, fn);
      if (encrypting.has(entry)) {
        expect(followReference(variables.SECRETS_KEY_ID, producers)).toEqual(keyArn());
        expectOnlyKeyUse(statements, 'kms:GenerateDataKey');
      } else {
        expect(variables.SECRETS_KEY_ID, entry).toBeUndefined();
        expect(statements, entry).toEqual([]);
      }
    }
  });

  it('should let only the Apply Revision task decrypt with it, and tell only it the key', () => {
    expect(DECRYPTS_SECRETS).toEqual(['ApplyRevision']);
    for (const [key, fn] of Object.entries(dev.workflow.functions)) {
      const variables = variablesOf(templates.workflow, fn);
      const statements = kmsStatements(templates.workflow, fn);
      if (key === 'ApplyRevision') {
        expect(followReference(variables.SECRETS_KEY_ID, producers)).toEqual(keyArn());
        expectOnlyKeyUse(statements, 'kms:Decrypt');
      } else {
        expect(variables.SECRETS_KEY_ID, key).toBeUndefined();
        expect(statements, key).toEqual([]);
      }
    }
  });

  it('should leave the key policy to the account (IAM decides), with no grant to any function role in it', () => {
    const key = resource(templates.data, logicalId(dev.data.secretsKey));
    const statements = (key.Properties.KeyPolicy as { Statement: { Principal: unknown }[] }).Statement;
    expect(statements).toHaveLength(1);
    expect(JSON.stringify(statements[0]?.Principal)).toContain(':root');
  });
});

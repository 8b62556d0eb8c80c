// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ASL placeholders are literal ${...} strings
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newApp } from '../../infra/build-app.js';
import { AslStateMachine, aslSubstitutions } from '../../infra/constructs/asl-state-machine.js';

const fakeFunction = (arn: string) => ({ functionArn: arn }) as lambda.IFunction;

const task = (resource: string) => ({
  StartAt: 'Step',
  States: { Step: { Type: 'Task', Resource: resource, End: true } },
});

describe('AslStateMachine', () => {
  describe('aslSubstitutions', () => {
    it('should map each ${<Task>FunctionArn} to the function of that task, once', () => {
      const definition = JSON.stringify({
        StartAt: 'A',
        States: {
          A: { Type: 'Task', Resource: '${PrepareDeploymentFunctionArn}', Next: 'B' },
          B: { Type: 'Task', Resource: '${RecordFailureFunctionArn}', Next: 'C' },
          C: { Type: 'Task', Resource: '${PrepareDeploymentFunctionArn}', End: true },
        },
      });
      const result = aslSubstitutions('x.asl.json', definition, {
        PrepareDeployment: fakeFunction('arn:prepare'),
        RecordFailure: fakeFunction('arn:record'),
        ApplyRevision: fakeFunction('arn:unused'),
      });
      expect(result).toEqual({
        substitutions: { PrepareDeploymentFunctionArn: 'arn:prepare', RecordFailureFunctionArn: 'arn:record' },
        tasks: ['PrepareDeployment', 'RecordFailure'],
      });
    });

    it('should fail on a placeholder naming no task, naming the file and the placeholder', () => {
      const definition = JSON.stringify(task('${ShipItFunctionArn}'));
      expect(() => aslSubstitutions('statemachines/x.asl.json', definition, {})).toThrow(
        /^statemachines\/x\.asl\.json: unresolved placeholder\(s\): \$\{ShipItFunctionArn\}: not a .* placeholder of a task/,
      );
    });

    it('should fail on a placeholder that is not a function ARN', () => {
      const definition = JSON.stringify(task('arn:aws:states:::dynamodb:putItem')).replace(
        'putItem"',
        'putItem", "T": "${TableName}"',
      );
      expect(() => aslSubstitutions('x.asl.json', definition, {})).toThrow(/\$\{TableName\}: not a/);
    });

    it('should fail on a task that has no function', () => {
      const definition = JSON.stringify(task('${ApplyRouteFunctionArn}'));
      expect(() => aslSubstitutions('x.asl.json', definition, { PrepareRoute: fakeFunction('arn:p') })).toThrow(
        /\$\{ApplyRouteFunctionArn\}: task "ApplyRoute" has no function/,
      );
    });
  });

  describe('construct', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'merlin-asl-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const build = (file: string) =>
      new AslStateMachine(new Stack(newApp({ bundle: false }), 'S'), 'Machine', {
        stateMachineName: 'm',
        definitionFile: file,
        functions: {},
        logRetention: RetentionDays.ONE_DAY,
        logRemovalPolicy: RemovalPolicy.DESTROY,
      });

    it('should fail synth on an ASL file with an unresolved placeholder', () => {
      const file = path.join(dir, 'broken.asl.json');
      writeFileSync(file, JSON.stringify(task('${NopeFunctionArn}')));
      expect(() => build(file)).toThrow(/broken\.asl\.json: unresolved placeholder\(s\): \$\{NopeFunctionArn\}/);
    });

    it('should fail synth on an ASL file that is not JSON', () => {
      const file = path.join(dir, 'garbled.asl.json');
      writeFileSync(file, '{"StartAt": ');
      expect(() => build(file)).toThrow(/garbled\.asl\.json: not valid JSON/);
    });
  });
});

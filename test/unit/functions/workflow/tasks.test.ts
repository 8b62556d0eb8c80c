import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEPLOYMENT_KINDS, DEPLOYMENT_STEPS } from '../../../../core/schemas/deployment.js';
import { newDeployment } from '../../../../core/use-cases/deployments.js';
import {
  SERVICE_TASKS,
  STATE_MACHINE_FILES,
  taskKeyOfPlaceholder,
  WORKFLOW_TASKS,
} from '../../../../functions/workflow/tasks.js';
import { makeDeps } from '../../../fakes/index.js';

const ROOT = new URL('../../../../', import.meta.url);
const MACHINES = new URL('statemachines/', ROOT);
const WORKFLOW_DIR = new URL('functions/workflow/', ROOT);

interface State {
  Type: string;
  Resource?: string;
}
interface Machine {
  StartAt: string;
  States: Record<string, State>;
}
const machine = (file: string): Machine => JSON.parse(readFileSync(new URL(file, MACHINES), 'utf8'));
/** `${<key>FunctionArn}`, as the ASL files write a task's Lambda. */
const placeholderOf = (key: string) => `$\{${key}FunctionArn}`;
const aslFiles = readdirSync(MACHINES).filter((f) => f.endsWith('.asl.json'));
const placeholders = (m: Machine) =>
  Object.entries(m.States)
    .filter(([, s]) => s.Type === 'Task')
    .map(([name, s]) => [name, s.Resource ?? ''] as const);

describe('Workflow tasks: statemachines/*.asl.json ↔ functions/workflow/tasks.ts', () => {
  it('should have a state machine file for every workflow, and no other', () => {
    expect(Object.values(STATE_MACHINE_FILES).sort()).toEqual([...aslFiles].sort());
  });

  it.each(aslFiles)(
    'should name in %s only <Key>FunctionArn placeholders whose Key is in WORKFLOW_TASKS, or SERVICE_TASKS',
    (file) => {
      const unknown = placeholders(machine(file)).filter(
        ([name, resource]) =>
          taskKeyOfPlaceholder(resource) === undefined &&
          SERVICE_TASKS[name as keyof typeof SERVICE_TASKS]?.resource !== resource,
      );

      expect(unknown).toEqual([]);
    },
  );

  it('should have a handler file for every task', () => {
    const missing = Object.values(WORKFLOW_TASKS).filter((entry) => !existsSync(new URL(`${entry}.ts`, WORKFLOW_DIR)));

    expect(missing).toEqual([]);
  });

  it('should use every task in some state machine', () => {
    const used = new Set(aslFiles.flatMap((f) => placeholders(machine(f)).map(([, r]) => taskKeyOfPlaceholder(r))));

    expect(Object.keys(WORKFLOW_TASKS).filter((k) => !used.has(k as keyof typeof WORKFLOW_TASKS))).toEqual([]);
  });

  it.each(Object.entries(WORKFLOW_TASKS))('should export a handler from the %s task file', async (_key, entry) => {
    const mod = (await import(new URL(`${entry}.ts`, WORKFLOW_DIR).href)) as { handler?: unknown };

    expect(typeof mod.handler).toBe('function');
  });

  it('should recognise only well-formed placeholders', () => {
    expect(taskKeyOfPlaceholder(placeholderOf('PrepareDeployment'))).toBe('PrepareDeployment');
    expect(taskKeyOfPlaceholder(placeholderOf('Nope'))).toBeUndefined();
    expect(taskKeyOfPlaceholder('arn:aws:lambda:eu-west-1:1:function:x')).toBeUndefined();
  });

  it.each(DEPLOYMENT_KINDS.map((k) => [k] as const))(
    'should name the step-recording Task states of the %s workflow as DEPLOYMENT_STEPS, in order',
    (kind) => {
      // Prepare: the workflow a deployment of this kind runs, as the use case records it
      const workflow = newDeployment(makeDeps(), {
        kind,
        project: 'p',
        model: 'm',
        environment: 'local',
        request: {},
      }).execution.workflow as keyof typeof STATE_MACHINE_FILES;

      // Act: Task states along the main path, Record Failure (the Catch target) aside
      const m = machine(STATE_MACHINE_FILES[workflow]);
      const tasks = placeholders(m)
        .filter(([, resource]) => taskKeyOfPlaceholder(resource) !== 'RecordFailure')
        .map(([name]) => name);

      // Assess
      expect(m.States[m.StartAt]?.Type).toBe('Task');
      expect(tasks).toEqual([...DEPLOYMENT_STEPS[kind]]);
    },
  );

  it('should catch into a Record Failure task in every state machine', () => {
    for (const file of aslFiles) {
      const failure = placeholders(machine(file)).filter(([, r]) => taskKeyOfPlaceholder(r) === 'RecordFailure');
      expect(
        failure.map(([name]) => name),
        file,
      ).toEqual(['Record Failure']);
    }
  });
});

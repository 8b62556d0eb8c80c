import { readFileSync } from 'node:fs';
import aslValidator from 'asl-validator';
import { describe, expect, it } from 'vitest';
import { WORKFLOWS } from '../../core/ports.js';
import { STATE_MACHINE_FILES } from '../../functions/workflow/tasks.js';

const load = (file: string) => readFileSync(new URL(`../../statemachines/${file}`, import.meta.url), 'utf8');

describe('State machine definitions', () => {
  for (const workflow of WORKFLOWS) {
    const text = load(STATE_MACHINE_FILES[workflow]);
    const substituted = text.replace(
      /\$\{([A-Za-z]+)FunctionArn\}/g,
      (_m, k: string) => `arn:aws:lambda:us-east-1:123456789012:function:${k}`,
    );
    const definition = JSON.parse(substituted) as {
      QueryLanguage?: string;
      States: Record<string, Record<string, unknown>>;
    };

    it(`${workflow}: is valid ASL once its placeholders are substituted`, () => {
      const result = aslValidator(definition, { checkPaths: true, checkArn: true });
      expect(result.errors).toEqual([]);
      expect(result.isValid).toBe(true);
    });

    it(`${workflow}: uses JSONPath only (the local runner ignores JSONata and Assign)`, () => {
      expect(definition.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
      for (const [name, state] of Object.entries(definition.States)) {
        expect(state, name).not.toHaveProperty('Assign');
        expect(state, name).not.toHaveProperty('Arguments');
        expect(state, name).not.toHaveProperty('Output');
      }
    });

    it(`${workflow}: routes every failure of a Task through Record Failure to a Fail state`, () => {
      for (const [name, state] of Object.entries(definition.States)) {
        if (state.Type !== 'Task' || name === 'Record Failure') continue;
        expect(state.Catch, name).toEqual([
          { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Record Failure' },
        ]);
      }
      expect(definition.States['Record Failure']?.Next).toBe('Deployment Failed');
      expect(definition.States['Deployment Failed']?.Type).toBe('Fail');
    });
  }
});

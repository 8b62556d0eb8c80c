import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { ValidationError } from '../../../core/errors.js';
import { createModelBody, createProjectBody, deployBody, versionPath } from '../../../core/schemas/index.js';
import { parseOrThrow, problemsOf } from '../../../core/validation.js';
import { thrownBy } from '../../fakes/index.js';

describe('Use case: parseOrThrow', () => {
  it('should return the parsed value with defaults applied', () => {
    const schema = z.strictObject({ limit: z.coerce.number().default(20) });

    expect(parseOrThrow(schema, {}, 'query')).toEqual({ limit: 20 });
    expect(parseOrThrow(schema, { limit: '5' }, 'query')).toEqual({ limit: 5 });
  });

  it('should name the field and the rule of a bad value (`body.name: …`)', () => {
    // Act
    const error = thrownBy(() => parseOrThrow(createProjectBody, { name: 'Fraud' }, 'body'));

    // Assess
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.message).toBe(
      'body.name: must be 3-50 characters of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen',
    );
    expect(error.details).toEqual({
      problems: [{ path: 'body.name', message: expect.stringMatching(/^must be 3-50/) }],
    });
  });

  it('should call an unknown field `is not a known field`', () => {
    const error = thrownBy(() => parseOrThrow(createProjectBody, { name: 'fraud', foo: 1, bar: 2 }, 'body'));

    expect(error.message).toBe('body.foo: is not a known field; body.bar: is not a known field');
  });

  it('should call a missing field `is required`', () => {
    const error = thrownBy(() => parseOrThrow(createModelBody, { type: 'onnx' }, 'body'));

    expect(error.message).toBe('body.name: is required');
  });

  it('should join every problem with "; " and list them in details', () => {
    const error = thrownBy(() => parseOrThrow(createModelBody, { name: '1x', type: 'sklearn', extra: true }, 'body'));

    expect(error.message.split('; ')).toEqual([
      expect.stringMatching(/^body\.name: must be 3-25 characters/),
      'body.type: must be one of onnx, xgboost, function, custom',
      'body.extra: is not a known field',
    ]);
    expect((error.details as { problems: unknown[] }).problems).toHaveLength(3);
  });

  it('should give nested paths', () => {
    const error = thrownBy(() => parseOrThrow(deployBody, { resources: { cpu: 'lots', gpu: 1 } }, 'body'));

    expect(error.message).toBe(
      'body.resources.cpu: must be a CPU quantity like "500m" or "2"; body.resources.gpu: is not a known field',
    );
  });

  it('should name the root itself when the whole value is missing', () => {
    const error = thrownBy(() => parseOrThrow(createProjectBody, undefined, 'body'));

    expect(error.message).toBe('body: is required');
  });

  it('should omit an empty prefix', () => {
    const problems = problemsOf(z.object({ a: z.string() }).safeParse({}).error!, '');

    expect(problems).toEqual([{ path: 'a', message: 'is required' }]);
  });

  it('should say a version is not a positive integer for 0 and -1', () => {
    for (const version of ['0', '-1']) {
      const error = thrownBy(() => parseOrThrow(versionPath, { project: 'fraud', model: 'iris', version }, 'path'));
      expect(error.message).toBe('path.version: must be a positive integer');
    }
  });

  it('should not call a present value of the wrong type `is required`', () => {
    const error = thrownBy(() => parseOrThrow(createProjectBody, { name: 123 }, 'body'));

    expect(error.message).not.toContain('is required');
    expect(error.message).toMatch(/^body\.name: .*expected string/);
  });

  it('should say `abc` is not a positive integer rather than that the version is required', () => {
    const error = thrownBy(() =>
      parseOrThrow(versionPath, { project: 'fraud', model: 'iris', version: 'abc' }, 'path'),
    );

    expect(error.message).toBe('path.version: must be a positive integer');
  });

  it('should refuse a version not written in decimal (0x10, 1e1)', () => {
    for (const version of ['0x10', '1e1']) {
      const error = thrownBy(() => parseOrThrow(versionPath, { project: 'fraud', model: 'iris', version }, 'path'));
      expect(error.message).toBe('path.version: must be a positive integer');
    }
  });
});

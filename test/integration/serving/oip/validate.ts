/**
 * Validates JSON against the schemas of the Open Inference Protocol REST spec (open_inference_rest.json, converted
 * from the upstream OpenAPI YAML). A small JSON Schema subset, enough for that spec: $ref, type, properties, required,
 * items, anyOf, additionalProperties.
 */
import { readFileSync } from 'node:fs';

type Schema = {
  $ref?: string;
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  additionalProperties?: Schema | boolean;
};

const spec = JSON.parse(readFileSync(new URL('./open_inference_rest.json', import.meta.url), 'utf8')) as {
  components: { schemas: Record<string, Schema> };
};

export type OipSchemaName =
  | 'metadata_server_response'
  | 'metadata_model_response'
  | 'inference_request'
  | 'inference_response'
  | 'inference_error_response'
  | 'metadata_model_error_response';

function resolve(schema: Schema): Schema {
  if (!schema.$ref) return schema;
  const name = schema.$ref.replace('#/components/schemas/', '');
  const target = spec.components.schemas[name];
  if (!target) throw new Error(`unknown $ref ${schema.$ref}`);
  return resolve(target);
}

function typeOk(type: string, v: unknown): boolean {
  switch (type) {
    case 'object':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    case 'array':
      return Array.isArray(v);
    case 'integer':
      return Number.isInteger(v);
    case 'number':
      return typeof v === 'number';
    default:
      return typeof v === type;
  }
}

function check(schema: Schema, v: unknown, path: string, errors: string[]): void {
  const s = resolve(schema);
  if (s.anyOf) {
    if (!s.anyOf.some((alt) => validateWith(alt, v).length === 0)) errors.push(`${path}: matches none of anyOf`);
    return;
  }
  if (s.type && !typeOk(s.type, v)) {
    errors.push(`${path}: expected ${s.type}, got ${JSON.stringify(v)}`);
    return;
  }
  if (s.type === 'object' || s.properties) {
    const obj = v as Record<string, unknown>;
    for (const r of s.required ?? []) if (!(r in obj)) errors.push(`${path}: missing required property ${r}`);
    for (const [k, val] of Object.entries(obj)) {
      const prop = s.properties?.[k];
      if (prop) check(prop, val, `${path}.${k}`, errors);
      else if (typeof s.additionalProperties === 'object') check(s.additionalProperties, val, `${path}.${k}`, errors);
      else if (s.additionalProperties === false) errors.push(`${path}: unexpected property ${k}`);
    }
  }
  if (s.type === 'array' && s.items) {
    (v as unknown[]).forEach((item, i) => {
      check(s.items as Schema, item, `${path}[${i}]`, errors);
    });
  }
}

function validateWith(schema: Schema, v: unknown): string[] {
  const errors: string[] = [];
  check(schema, v, '$', errors);
  return errors;
}

/** The list of violations (empty when `value` is valid). */
export function validateOip(name: OipSchemaName, value: unknown): string[] {
  return validateWith({ $ref: `#/components/schemas/${name}` }, value);
}

/**
 * Runtime validation with the protocol's own schemas, shared by the server and clients.
 * (Added with the coordinator; additive.)
 */
import type { TSchema, Static } from '@sinclair/typebox';

export type { TSchema, Static };
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';

export type CheckResult<T> = { ok: true; value: T } | { ok: false; message: string };

export interface SchemaChecker<T> {
  /** Checks `value`; the message of a failure names the first offending field. */
  check(value: unknown): CheckResult<T>;
}

export interface CheckerOptions {
  /** Convert strings to the schema's numbers/booleans first (query strings). */
  coerce?: boolean;
  /** What to call the value in messages, e.g. `body` or `querystring`. */
  label?: string;
}

/** Compiles `schema` once; `check` never throws. */
export function compileChecker<S extends TSchema>(
  schema: S,
  options: CheckerOptions = {},
): SchemaChecker<Static<S>> {
  const compiled = TypeCompiler.Compile(schema);
  const label = options.label ?? 'value';
  return {
    check(input: unknown): CheckResult<Static<S>> {
      const value = options.coerce === true ? Value.Convert(schema, input) : input;
      if (compiled.Check(value)) return { ok: true, value };
      const first = compiled.Errors(value).First();
      if (first === undefined) return { ok: false, message: `${label} is invalid` };
      const field = first.path === '' ? label : `${label}${first.path.replace(/\//g, '.')}`;
      return { ok: false, message: `${field}: ${first.message}` };
    },
  };
}

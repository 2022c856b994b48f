import type { FastifySchemaCompiler } from 'fastify';
import { compileChecker, type TSchema } from '@fleet/protocol';

interface ValidationFailure extends Error {
  statusCode: number;
}

/**
 * Validates bodies, params and query strings with the protocol's TypeBox schemas:
 * unknown fields are rejected (never stripped), types are never coerced except in
 * query strings, and the message names the offending field.
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const part = httpPart ?? 'body';
  const checker = compileChecker(schema, { coerce: part === 'querystring' || part === 'params', label: part });
  return (data: unknown) => {
    const input = part === 'body' && (data === undefined || data === null) ? {} : data;
    const result = checker.check(input);
    if (result.ok) return { value: result.value };
    const error = new Error(result.message) as ValidationFailure;
    error.statusCode = 400;
    return { error };
  };
};

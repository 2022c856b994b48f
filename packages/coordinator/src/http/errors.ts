import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isFleetError } from '@fleet/core';
import type { ErrorBody, ErrorCode } from '@fleet/protocol';
import type { Reporter } from '../reporter';

export function statusForCode(code: ErrorCode): number {
  switch (code) {
    case 'bad_request':
      return 400;
    case 'unauthorized':
      return 401;
    case 'forbidden':
      return 403;
    case 'not_found':
      return 404;
    case 'conflict':
    case 'not_owner':
    case 'run_closed':
      return 409;
    case 'payload_too_large':
      return 413;
    case 'rate_limited':
      return 429;
    case 'busy':
      return 503;
    case 'internal':
      return 500;
    default: {
      const never: never = code;
      throw new Error(`unknown error code ${String(never)}`);
    }
  }
}

function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 409:
      return 'conflict';
    case 413:
      return 'payload_too_large';
    case 429:
      return 'rate_limited';
    default:
      return status >= 500 ? 'internal' : 'bad_request';
  }
}

export function sendError(reply: FastifyReply, status: number, body: ErrorBody): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

/** The one place errors become HTTP answers: typed errors by code, fastify's by status. */
export function registerErrorHandling(app: FastifyInstance, reporter: Reporter): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (isFleetError(error)) {
      return sendError(reply, statusForCode(error.code), { code: error.code, message: error.message });
    }
    const status = typeof error.statusCode === 'number' ? error.statusCode : 500;
    if (status >= 400 && status < 500) {
      const message =
        error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError
          ? `body is not valid JSON: ${error.message}`
          : error.message;
      return sendError(reply, status, { code: codeForStatus(status), message });
    }
    reporter.error('request failed', { method: request.method, url: request.url, error: String(error.stack ?? error) });
    return sendError(reply, 500, { code: 'internal', message: 'internal error; the coordinator reported it' });
  });
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) =>
    sendError(reply, 404, { code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );
}

import { maxHeaderSize, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
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
  // Node answers an Expect other than 100-continue itself, with a bare 417; this gives it Fleet's shape
  app.server.on('checkExpectation', (_request: IncomingMessage, response: ServerResponse) => {
    const body: ErrorBody = { code: 'bad_request', message: 'unsupported Expect header: only Expect: 100-continue is understood' };
    response.shouldKeepAlive = false;
    response.writeHead(417, { 'content-type': 'application/json; charset=utf-8', connection: 'close' });
    response.end(JSON.stringify(body));
  });
  // without a listener Node drops a CONNECT's socket without a word; Fleet is no proxy: 405, then close
  app.server.on('connect', (_request: IncomingMessage, socket: Socket) => {
    const text = JSON.stringify({ code: 'bad_request', message: 'CONNECT is not supported: the coordinator is not a proxy' } satisfies ErrorBody);
    socket.on('error', () => undefined);
    socket.end(
      'HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
      () => socket.destroy(),
    );
    setTimeout(() => socket.destroy(), 5000).unref();
  });
}

/** What Node's HTTP parser says about a request it could not parse; `reason` is its own words. */
interface ParserError extends Error {
  code?: string;
  reason?: string;
}

/**
 * Errors of the HTTP parser itself (unknown methods, broken framing, duplicated
 * Content-Length, headers over Node's limit, a request not received in time) never reach
 * fastify's error handler: they are answered here in Fleet's error shape, with
 * `Connection: close` (the connection cannot be trusted any more), and the socket is closed
 * once the answer is written. Never echoes the client's bytes.
 */
export function clientErrorHandler(error: ParserError, socket: Socket): void {
  // a connection reset or an already closed socket: nobody to answer
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  let status = 400;
  let message: string;
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      status = 408;
      message = 'the request was not received in time';
      break;
    case 'HPE_HEADER_OVERFLOW':
      status = 431;
      message = `the request line and headers exceed the limit of ${maxHeaderSize} bytes`;
      break;
    default: {
      const reason = typeof error.reason === 'string' && error.reason !== '' ? error.reason : error.message;
      message = `malformed HTTP request: ${reason}${error.code !== undefined ? ` (${error.code})` : ''}`;
    }
  }
  const body: ErrorBody = { code: codeForStatus(status), message };
  const text = JSON.stringify(body);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(text)}\r\n` +
      'Connection: close\r\n\r\n' +
      text,
    () => socket.destroy(),
  );
  // a client that does not read its answer does not keep the socket
  setTimeout(() => socket.destroy(), 5000).unref();
}

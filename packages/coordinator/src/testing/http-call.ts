/** A tiny HTTP client for tests: any method, any headers, raw bodies, partial uploads. */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

export interface CallResult {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** False when the connection ended before the whole answer arrived. */
  readonly complete: boolean;
  json(): any; // eslint-disable-line @typescript-eslint/no-explicit-any -- test convenience
}

export interface CallOptions {
  readonly method: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  /** Send only these bytes, then destroy the connection (an aborted upload). */
  readonly abortAfter?: Buffer;
}

export function call(baseUrl: string, options: CallOptions): Promise<CallResult> {
  const url = new URL(options.path, baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method, headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let complete = false;
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        complete = res.complete;
      });
      res.on('error', () => undefined);
      res.on('close', () => {
        const body = Buffer.concat(chunks);
        resolve({
          statusCode: res.statusCode ?? 0,
          headers: res.headers,
          body,
          complete: complete && res.complete,
          json: () => JSON.parse(body.toString('utf8')),
        });
      });
    });
    req.on('error', reject);
    if (options.abortAfter !== undefined) {
      req.flushHeaders();
      req.write(options.abortAfter, () => setTimeout(() => req.destroy(), 20));
      return;
    }
    req.end(options.body);
  });
}

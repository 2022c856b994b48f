import type { FastifyReply } from 'fastify';

/** Aborts when the client goes away or the server shuts down. */
export function requestSignal(reply: FastifyReply, shutdown: AbortSignal): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => controller.abort());
  return AbortSignal.any([controller.signal, shutdown]);
}

/** Real elapsed time of a long-poll (waiting uses real timers even with a fake clock). */
export function stopwatch(): () => number {
  const start = process.hrtime.bigint();
  return (): number => Number((process.hrtime.bigint() - start) / 1_000_000n);
}

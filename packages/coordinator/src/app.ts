import type { ServerOptions } from 'node:http';
import fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { AppDeps } from './app-deps';
import { registerAuth } from './http/auth';
import { registerRateLimits } from './http/rate-limits';
import { clientErrorHandler, registerErrorHandling, sendError } from './http/errors';
import { validatorCompiler } from './http/validation';
import { registerCacheRoutes } from './routes/cache';
import type { RouteContext } from './routes/context';
import { registerExecutionRoutes } from './routes/executions';
import { registerHealthRoute } from './routes/health';
import { registerLeaseRoutes } from './routes/leases';
import { registerRunRoutes } from './routes/runs';
import { registerTokenRoutes } from './routes/tokens';
import { registerWorkspaceGuard } from './trust/access';
import { startSweeper } from './sweeper';
import { Wakeups } from './wakeups';

/** Builds the coordinator's fastify app. It never listens: callers do (or use inject). */
export function createApp(deps: AppDeps): FastifyInstance {
  const app = fastify({
    logger: false,
    return503OnClosing: true,
    forceCloseConnections: true,
    // a client that stops sending mid-request is cut off, not waited for forever
    requestTimeout: 5 * 60_000,
    // malformed URLs get Fleet's own error shape too
    frameworkErrors: (error, _request, reply) => {
      void sendError(reply as unknown as FastifyReply, 400, { code: 'bad_request', message: `malformed request: ${error.message}` });
    },
    // and so do requests Node's HTTP parser refuses (bad framing, unknown methods, huge headers)
    clientErrorHandler,
    // Fleet never looks at Host: a request without one is answered like any other, not with Node's bare 400
    http: { requireHostHeader: false } as ServerOptions, // (Node >= 20; @types/node 20.17 does not know it)
    // ids in paths are checked by the params schemas (RunId is up to 200 characters), not cut at fastify's 100
    routerOptions: { maxParamLength: 256 },
  });
  const shutdown = new AbortController();
  const ctx: RouteContext = { deps, wakeups: new Wakeups(), shutdown: shutdown.signal, startedAt: deps.clock.now(), runDueAt: new Map() };
  const sweeper = startSweeper(ctx);
  app.setValidatorCompiler(validatorCompiler);
  registerErrorHandling(app, deps.reporter);
  registerAuth(app, deps.config.token, deps.state);
  registerWorkspaceGuard(app, deps.state);
  registerRateLimits(app, deps.config);
  // routes load after the rate limiter (a plugin), so that its onRoute hook sees every one of them
  void app.register(async (routes) => {
    registerHealthRoute(routes);
    registerRunRoutes(routes, ctx);
    registerExecutionRoutes(routes, ctx);
    registerLeaseRoutes(routes, ctx);
    registerCacheRoutes(routes, ctx);
    registerTokenRoutes(routes, ctx);
  });
  app.addHook('preClose', async () => {
    shutdown.abort();
  });
  // the store is closed after the app: no pass of the sweeper may still be using it
  app.addHook('onClose', async () => {
    await sweeper.stop();
  });
  return app;
}

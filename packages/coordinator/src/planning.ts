import {
  computeBLevels,
  createDurationEstimator,
  initialStatuses,
  NotFoundError,
  ConflictError,
  RunClosedError,
  validatePlan,
} from '@fleet/core';
import type { CreateExecutionRequest, ExecutionView } from '@fleet/protocol';
import type { AppDeps } from './app-deps';
import type { PlannedTask } from './state/state-store';
import { publicRunId, readNamespaces, spaceOfRun, workspaceOfRun } from './trust/namespaces';

/** Most recent history rows per target used for priorities. */
const HISTORY_PER_TARGET = 5000;

/**
 * Creates an execution from a plan, or returns the existing one for a repeated
 * executionId. Cache hits at plan time are succeeded at once; priorities are b-levels
 * from history.
 */
export async function planExecution(
  deps: AppDeps,
  runId: string,
  request: CreateExecutionRequest,
): Promise<{ view: ExecutionView; created: boolean }> {
  const { state, clock } = deps;
  const existing = await state.getExecutionRef(request.executionId);
  if (existing !== null) {
    if (spaceOfRun(existing.runId) !== spaceOfRun(runId)) {
      // of another workspace: say nothing about it
      throw new ConflictError(`execution id ${request.executionId} is already in use; choose another`);
    }
    if (existing.runId !== runId) {
      throw new ConflictError(
        `execution ${request.executionId} belongs to run ${publicRunId(existing.runId)}, not ${publicRunId(runId)}`,
      );
    }
    const view = await state.getExecution(request.executionId, clock.now());
    if (view !== null) return { view, created: false };
  }
  const run = await state.getRun(runId, clock.now());
  if (run === null) throw new NotFoundError(`run ${runId} not found; create it with POST /v1/runs first`);
  if (run.status !== 'open') throw new RunClosedError(`run ${runId} is ${run.status}; it takes no new executions`);

  const plan = validatePlan(request.tasks);
  const history = await state.loadDurationHistory([...new Set(request.tasks.map((t) => t.target))], HISTORY_PER_TARGET);
  const levels = computeBLevels(plan, createDurationEstimator(history));
  const hashes = request.tasks.flatMap((t) => (t.hash === null ? [] : [t.hash]));
  const namespace = await state.runCacheNamespace(runId);
  const results = await state.findSuccessfulResults(readNamespaces(namespace ?? workspaceOfRun(runId)), hashes);
  const cachedIds = new Set(request.tasks.filter((t) => t.hash !== null && results.has(t.hash)).map((t) => t.id));
  const statuses = initialStatuses(request.tasks, cachedIds);
  const tasks = request.tasks.map(
    (t): PlannedTask => ({
      id: t.id,
      project: t.project,
      target: t.target,
      configuration: t.configuration ?? null,
      hash: t.hash,
      deps: [...new Set(t.deps)],
      status: statuses.get(t.id) ?? 'pending',
      priority: levels.get(t.id) ?? 0,
      cached: t.hash === null ? null : (results.get(t.hash) ?? null),
    }),
  );
  return state.insertExecution(runId, { executionId: request.executionId, command: request.command, tasks }, clock.now());
}

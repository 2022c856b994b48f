import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A task result that main must show as the task's own although the task ran elsewhere:
 * a failure on an agent (Nx 20–22 treat a cached failure as a miss and would run the task
 * again). The relay stages it; the preload module, loaded into the task's process on
 * main through NODE_OPTIONS, finds it, restores outputs, prints the log and exits.
 */
export interface StagedReplay {
  taskId: string;
  exitCode: number;
  /** The agent's artifact (Nx's tar.gz: outputs + terminalOutput + code), if it made one. */
  archive: string | null;
  /** A line Fleet prints before the task's own log. */
  banner: string;
}

export function replayKey(taskId: string): string {
  return createHash('sha256').update(taskId).digest('hex').slice(0, 32);
}

export function replayTaskId(env: NodeJS.ProcessEnv): string | null {
  const project = env.NX_TASK_TARGET_PROJECT;
  const target = env.NX_TASK_TARGET_TARGET;
  if (!project || !target) return null;
  const configuration = env.NX_TASK_TARGET_CONFIGURATION;
  return configuration ? `${project}:${target}:${configuration}` : `${project}:${target}`;
}

export function stageReplay(dir: string, replay: Omit<StagedReplay, 'archive'>, archiveFile: string | null): void {
  mkdirSync(dir, { recursive: true });
  const key = replayKey(replay.taskId);
  let archive: string | null = null;
  if (archiveFile) {
    archive = join(dir, `${key}.tar.gz`);
    renameSync(archiveFile, archive);
  }
  const record: StagedReplay = { ...replay, archive };
  const tmp = join(dir, `${key}.json.tmp`);
  writeFileSync(tmp, JSON.stringify(record));
  renameSync(tmp, join(dir, `${key}.json`));
}

/** A task that succeeded on an agent: if main still starts it, its hash differed there. */
export interface StagedSuccess {
  taskId: string;
  agent: string | null;
  hash: string | null;
}

export function stageSuccess(dir: string, success: StagedSuccess): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${replayKey(success.taskId)}.ok.json`), JSON.stringify(success));
}

export function readStagedSuccess(dir: string, taskId: string): StagedSuccess | null {
  const file = join(dir, `${replayKey(taskId)}.ok.json`);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as StagedSuccess) : null;
}

export function readStagedReplay(dir: string, taskId: string): StagedReplay | null {
  const file = join(dir, `${replayKey(taskId)}.json`);
  if (!existsSync(file)) return null;
  return JSON.parse(readFileSync(file, 'utf8')) as StagedReplay;
}

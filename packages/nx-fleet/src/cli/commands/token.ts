import type { Argv, CommandModule } from 'yargs';
import { Value } from '@sinclair/typebox/value';
import { TOKEN_SCOPES, TokenId, WorkspaceName, type TokenScope, type TokenView } from '@fleet/protocol';
import { CoordinatorHttpError } from '../../client/http';
import { FleetError } from '../../util/errors';
import { clientContext, type CommonArgs } from '../context';

interface CreateArgs extends CommonArgs {
  scope: TokenScope;
  workspace?: string;
  label?: string;
  'branch-scoped': boolean;
}

interface ListArgs extends CommonArgs {
  json: boolean;
}

interface RevokeArgs extends CommonArgs {
  tokenId: string;
}

const ADMIN_HINT =
  "use the coordinator's own token (serve --token / FLEET_TOKEN) or one created with `nx-fleet token create --scope admin`";

/** 401/403 on a token route: say what to do instead of the bare status. */
async function asAdmin<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof CoordinatorHttpError && error.status === 401) {
      throw new FleetError(
        `${what} was refused (401): FLEET_TOKEN is not a live token of this coordinator (unknown, mistyped or revoked); ` +
          `${what} needs an admin token: ${ADMIN_HINT}`,
        'unauthorized',
      );
    }
    if (error instanceof CoordinatorHttpError && error.status === 403) {
      throw new FleetError(`${what} needs an admin token (of the workspace it manages): ${ADMIN_HINT}. ${error.message}`, 'forbidden');
    }
    throw error;
  }
}

/** Where the secret of a new token belongs. */
function whereItGoes(scope: TokenScope): string {
  switch (scope) {
    case 'read-only':
      return 'put it in the FLEET_TOKEN secret of jobs that may read the cache but not write it (pull requests from forks, laptops)';
    case 'read-write':
      return 'put it in the FLEET_TOKEN secret of your trusted CI (the main job and the agent jobs)';
    case 'admin':
      return 'keep it where your admins keep secrets: it creates and revokes tokens';
  }
}

const create: CommandModule<object, CreateArgs> = {
  command: 'create',
  describe: 'Create a token (needs an admin token); prints the secret once on stdout',
  builder: (y) =>
    y
      .option('scope', {
        choices: TOKEN_SCOPES,
        demandOption: true,
        describe: 'read-only: read the cache and watch runs; read-write: also run agents and write; admin: also manage tokens',
      })
      .option('workspace', { type: 'string', describe: "The workspace the token belongs to (default: the admin token's own)" })
      .option('label', { type: 'string', describe: 'A note shown by `token list` (who or what uses it)' })
      .option('branch-scoped', {
        type: 'boolean',
        default: false,
        describe: "Its writes never reach the shared cache, whatever branch they declare (for jobs that build untrusted code)",
      })
      .check((a) => {
        if (a.workspace !== undefined && !Value.Check(WorkspaceName, a.workspace)) {
          throw new Error('--workspace must be lower-case letters, digits, - or _ (at most 64, starting with a letter or digit)');
        }
        if (a.label !== undefined && (String(a.label).length < 1 || String(a.label).length > 200)) {
          throw new Error('--label must be 1 to 200 characters');
        }
        return true;
      }) as never,
  handler: async (args) => {
    const ctx = clientContext(args);
    const created = await asAdmin('token create', () =>
      ctx.client.createToken({
        scope: args.scope,
        ...(args.workspace !== undefined ? { workspace: args.workspace } : {}),
        ...(args.label !== undefined ? { label: String(args.label) } : {}),
        ...(args['branch-scoped'] ? { branchScoped: true } : {}),
      }),
    );
    const { view } = created;
    // the secret alone on stdout, so that `$(nx-fleet token create …)` captures it and nothing else
    process.stdout.write(`${created.token}\n`);
    process.stderr.write(
      `token ${view.tokenId} created (${view.scope}, workspace ${view.workspace}${view.branchScoped ? ', branch-scoped' : ''}). ` +
        `This is the only time it is shown; it cannot be shown again: ${whereItGoes(view.scope)}.\n`,
    );
  },
};

const list: CommandModule<object, ListArgs> = {
  command: 'list',
  describe: 'List the tokens (needs an admin token); never shows a secret',
  builder: (y) => y.option('json', { type: 'boolean', default: false, describe: 'Print the list as JSON' }) as never,
  handler: async (args) => {
    const ctx = clientContext(args);
    const { tokens } = await asAdmin('token list', () => ctx.client.listTokens());
    process.stdout.write(args.json ? `${JSON.stringify({ tokens }, null, 2)}\n` : tokenTable(tokens));
  },
};

const revoke: CommandModule<object, RevokeArgs> = {
  command: 'revoke <tokenId>',
  describe: 'Revoke a token at once (needs an admin token)',
  builder: (y) =>
    y
      .positional('tokenId', { type: 'string', demandOption: true, describe: 'The id shown by `token create` and `token list` (tok_…)' })
      .check((a) => {
        if (!Value.Check(TokenId, a.tokenId)) throw new Error(`"${String(a.tokenId).slice(0, 80)}" is not a token id (tok_…, as \`token list\` shows)`);
        return true;
      }) as never,
  handler: async (args) => {
    const ctx = clientContext(args);
    const view = await asAdmin('token revoke', async () => {
      try {
        return await ctx.client.revokeToken(args.tokenId);
      } catch (error) {
        if (error instanceof CoordinatorHttpError && error.status === 404) {
          throw new FleetError(`no token ${args.tokenId} in the workspaces this admin token manages (see \`nx-fleet token list\`)`, 'not_found');
        }
        throw error;
      }
    });
    ctx.reporter.info(`token ${view.tokenId} (${view.scope}, workspace ${view.workspace}) is revoked: the coordinator refuses it from now on`);
  },
};

/** `nx-fleet token create|list|revoke`. */
export const token: CommandModule<object, CommonArgs> = {
  command: 'token',
  describe: 'Create, list and revoke the coordinator\'s tokens (needs an admin token in FLEET_TOKEN)',
  builder: (y: Argv) =>
    y
      .command(create)
      .command(list)
      .command(revoke)
      .demandCommand(1, 'name a token command: create, list or revoke') as never,
  handler: () => undefined,
};

/** The tokens as a fixed-width table: id, scope, workspace, label, branch-scoped, created, revoked. */
export function tokenTable(tokens: readonly TokenView[]): string {
  const date = (ms: number | null): string => (ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));
  const rows = [
    ['ID', 'SCOPE', 'WORKSPACE', 'LABEL', 'BRANCH-SCOPED', 'CREATED', 'REVOKED'],
    ...tokens.map((t) => [
      t.tokenId,
      t.scope,
      t.workspace,
      (t.label ?? '-').replace(/[\u0000-\u001f\u007f]/g, ' '),
      t.branchScoped ? 'yes' : 'no',
      date(t.createdAt),
      date(t.revokedAt),
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  '));
  return `${lines.join('\n')}\n${tokens.length === 0 ? '(no tokens)\n' : ''}`;
}

import { handmadeWorkspaceTemplate, generatedWorkspaceTemplate } from './workspaces';
import type { NxVersion } from './nx-versions';

/**
 * jest globalSetup of the e2e project: builds (or finds cached) the generated and handmade templates before
 * any test runs, one Nx workspace creation at a time. Set FLEET_E2E_SKIP_19=1 to skip Nx 19.8.14, and
 * FLEET_E2E_SKIP_TEMPLATES=1 to skip it all (tests then build what they ask for on first use).
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.FLEET_E2E_SKIP_TEMPLATES === '1') return;
  const versions: NxVersion[] = process.env.FLEET_E2E_SKIP_19 === '1' ? ['20.8.4'] : ['20.8.4', '19.8.14'];
  const progress = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  for (const version of versions) {
    const startedAt = Date.now();
    const generated = await generatedWorkspaceTemplate(version, { onProgress: progress });
    const handmade = await handmadeWorkspaceTemplate(version, { onProgress: progress });
    const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
    progress(`[fleet-e2e ${version}] templates ready in ${seconds} s: ${generated} , ${handmade}`);
  }
}

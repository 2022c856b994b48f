import { handmadeWorkspaceTemplate, generatedWorkspaceTemplate } from './workspaces';
import { e2eNxVersions } from './nx-versions';

/**
 * jest globalSetup of the e2e project: builds (or finds cached) the generated and handmade templates for
 * e2eNxVersions() (FLEET_E2E_NX_VERSIONS, default 19.8.14 and 24.0.6; FLEET_E2E_SKIP_19=1 drops 19.8.14) before
 * any test runs, one Nx workspace creation at a time. FLEET_E2E_SKIP_TEMPLATES=1 skips it all (tests then
 * build what they ask for on first use).
 */
export default async function globalSetup(): Promise<void> {
  const versions = e2eNxVersions(); // validates FLEET_E2E_NX_VERSIONS even when templates are skipped
  if (process.env.FLEET_E2E_SKIP_TEMPLATES === '1') return;
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

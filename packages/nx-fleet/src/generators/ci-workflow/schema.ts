export const CI_PROVIDERS = ['github', 'circleci', 'azure', 'gitlab', 'bitbucket-pipelines'] as const;
export type CiProvider = (typeof CI_PROVIDERS)[number];

/** Options of `nx g nx-fleet:ci-workflow`, as schema.json declares them. */
export interface CiWorkflowGeneratorSchema {
  ci: CiProvider;
  name?: string;
  agents?: number;
  targets?: string | string[];
  mainBranch?: string;
  timeoutMinutes?: number;
  overwrite?: boolean;
}

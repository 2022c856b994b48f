import type { Config } from 'jest';

const tsJest: Config['transform'] = {
  '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }],
};
const moduleNameMapper = { '^@fleet/([a-z-]+)$': '<rootDir>/packages/$1/src' };

/**
 * Two test files at a time by default (FLEET_TEST_WORKERS to change it): most of an e2e file's time is
 * spent waiting (long-polls, lease expiry, retries, a 150 s task), so two overlap on a 2-core CI machine.
 */
const workers = Number(process.env.FLEET_TEST_WORKERS ?? 2);
if (!Number.isInteger(workers) || workers < 1) throw new Error(`FLEET_TEST_WORKERS must be a whole number of at least 1, not "${process.env.FLEET_TEST_WORKERS}"`);

const config: Config = {
  maxWorkers: workers,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform: tsJest,
      moduleNameMapper,
      testMatch: ['<rootDir>/packages/*/src/**/*.spec.ts', '<rootDir>/tools/**/*.spec.ts'],
    },
    {
      displayName: 'e2e',
      testEnvironment: 'node',
      transform: tsJest,
      moduleNameMapper,
      testMatch: ['<rootDir>/e2e/**/*.e2e.ts'],
      globalSetup: '<rootDir>/e2e/support/global-setup.ts',
      setupFilesAfterEnv: ['<rootDir>/e2e/support/matchers.ts'],
    },
  ],
};

export default config;

import type { Config } from 'jest';

const tsJest: Config['transform'] = {
  '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }],
};
const moduleNameMapper = { '^@fleet/([a-z-]+)$': '<rootDir>/packages/$1/src' };

const config: Config = {
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

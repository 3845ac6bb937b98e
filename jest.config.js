/** Tests import the TypeScript sources directly (ts-jest); e2e tests spawn the built CLI (`npm run build` first). */
const common = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  moduleNameMapper: {
    '^@km/shared$': '<rootDir>/shared/src/index.ts',
    '^@km/shared/dist/(.*)$': '<rootDir>/shared/src/$1',
    '^@km/functions/dist/(.*)$': '<rootDir>/functions/src/$1',
  },
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }] },
};

module.exports = {
  // e2e tests start real servers; the machines are shared and slow at times. Never a speed assertion.
  testTimeout: 120_000,
  // A failing e2e test can leave its MCP client's child process behind: the run must still end (with its failures)
  // rather than hang CI. Passing tests close what they open.
  forceExit: true,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/*/test/**/*.unit.test.ts'] },
    { ...common, displayName: 'int', testMatch: ['<rootDir>/*/test/**/*.int.test.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/*/test/**/*.e2e.test.ts'], setupFiles: ['<rootDir>/cli/test/e2e-env.js'] },
  ],
};

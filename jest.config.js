// One setup for every suite. NestJS 12 and a few other dependencies ship ES modules only. Node 20 loads them
// from our CommonJS build through require(esm), but Jest's module system cannot (before Node 24.9), so babel
// turns them into CommonJS here, once, and test files import them like anything else.
const { readdirSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

/** Top-level packages that ship ES modules only: the ones babel must turn into CommonJS. */
function esmOnlyPackages(dir = join(__dirname, 'node_modules')) {
  const names = [];
  for (const entry of readdirSync(dir)) {
    if (entry.startsWith('.')) continue;
    if (entry.startsWith('@')) {
      for (const sub of readdirSync(join(dir, entry))) names.push(`${entry}/${sub}`);
    } else names.push(entry);
  }
  return names.filter((name) => {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, name, 'package.json'), 'utf8'));
      return pkg.type === 'module' || /\.mjs$/.test(pkg.main ?? '');
    } catch {
      return false;
    }
  });
}

const ESM_PACKAGES = esmOnlyPackages().map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

const shared = {
  rootDir: __dirname,
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json', diagnostics: false }],
    '^.+\\.m?js$': [
      'babel-jest',
      {
        babelrc: false,
        configFile: false,
        sourceType: 'unambiguous',
        plugins: [
          require.resolve('./test/setup/babel-rename-esm-require.js'),
          'babel-plugin-transform-import-meta',
          '@babel/plugin-transform-dynamic-import',
          '@babel/plugin-transform-modules-commonjs',
        ],
      },
    ],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_PACKAGES.join('|')})/)`],
  moduleNameMapper: {
    '^src/(.*)$': '<rootDir>/src/$1',
    '^test/(.*)$': '<rootDir>/test/$1',
    '^migrations/(.*)$': '<rootDir>/migrations/$1',
  },
  testEnvironment: 'node',
};

/** @type {import('jest').Config} */
module.exports = {
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/test/setup/summary-reporter.js'],
  testTimeout: 30_000,
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.spec.ts'] },
    { ...shared, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'] },
    // A service with its real repositories on a real database (test/helpers/modules.ts, startModules), no HTTP.
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.integration-spec.ts'],
    },
  ],
};

// One setup for every suite. NestJS 12 and a few other dependencies ship ES modules only. Node 20 loads them
// from our CommonJS build through require(esm), but Jest's module system cannot (before Node 24.9), so babel
// turns them into CommonJS here, once, and test files import them like anything else.
const { existsSync, readdirSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

/**
 * Packages that ship ES modules only: the ones babel must turn into CommonJS. Nested node_modules count too
 * (a dependency may bring its own ESM-only copy of a package).
 */
function esmOnlyPackages(dir = join(__dirname, 'node_modules'), found = new Set()) {
  for (const entry of readdirSync(dir)) {
    if (entry.startsWith('.')) continue;
    const names = entry.startsWith('@')
      ? readdirSync(join(dir, entry)).map((sub) => `${entry}/${sub}`)
      : [entry];
    for (const name of names) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, name, 'package.json'), 'utf8'));
        if (pkg.type === 'module' || /\.mjs$/.test(pkg.main ?? '')) found.add(name);
      } catch {
        // not a package
      }
      const nested = join(dir, name, 'node_modules');
      if (existsSync(nested)) esmOnlyPackages(nested, found);
    }
  }
  return [...found];
}

/**
 * The @nestjs/swagger CLI plugin, with the options `nest build` gives it (nest-cli.json, the one place they
 * are written), so the OpenAPI document the suites see is the one the build serves. It documents DTO fields
 * (`*.dto.ts`: types, `?`, class-validator rules, JSDoc descriptions and `@example`s); controllers are left
 * out (`controllerFileNameSuffix: []`): operations keep their explicit @ApiOperation/@Api*Response.
 */
const SWAGGER_PLUGIN = {
  path: '<rootDir>/swagger-plugin.ts-jest.js',
  options: require('./nest-cli.json').compilerOptions.plugins.find((p) => p.name === '@nestjs/swagger')
    .options,
};

const ESM_PACKAGES = esmOnlyPackages().map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

const shared = {
  rootDir: __dirname,
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  transform: {
    '^.+\\.ts$': [
      'ts-jest',
      {
        tsconfig: '<rootDir>/tsconfig.jest.json',
        diagnostics: false,
        astTransformers: { before: [SWAGGER_PLUGIN] },
      },
    ],
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
  // The innermost node_modules of a path decides: only ESM-only packages there are transformed.
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_PACKAGES.join('|')})/)(?!.*/node_modules/)`],
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

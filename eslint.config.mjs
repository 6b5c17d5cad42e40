// @ts-check
import eslint from '@eslint/js';
import { readdirSync } from 'node:fs';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/**
 * Dependency rules (docs/architecture.md): cross-cutting folders import no feature; a feature imports the
 * cross-cutting folders and only the features it names; imports are absolute (`src/...`).
 */
const NAMED_DEPENDENCIES = {
  users: [],
  projects: ['users'],
  'billing-providers': [],
  // Features announce their changes through src/events' outbox writer; src/events imports no feature.
  events: [],
  'api-keys': ['users', 'projects', 'billing-providers', 'events'],
  // The hot path reads api_keys through ApiKeysModule's repository, the key format and the revocation channel,
  // and counts each resolve with KeyUsageModule's counters.
  'api-key-resolution': ['api-keys', 'key-usage'],
  // Usage counts are kept per key (`api_key_usage` references `api_keys`).
  'key-usage': ['api-keys'],
  // A mint or roll of a person's lineage takes their user's lock, the kill switch's (decision 0110).
  'org-tokens': ['users', 'events'],
  'oauth-sessions': ['users', 'billing-providers', 'events'],
  credentials: ['users', 'events'],
  // Leak response revokes through the two tables' repositories, formats and revocation channels.
  leaks: ['api-keys', 'org-tokens', 'events'],
  // The admin inventory and the kill switch act on every kind of credential a person holds, through what
  // each feature exports; none of them imports it.
  offboarding: ['users', 'api-keys', 'org-tokens', 'oauth-sessions', 'credentials', 'events'],
};
const CROSS_CUTTING = [
  'auth',
  'audit',
  'config',
  'crypto',
  'database',
  'errors',
  'health',
  'http',
  'logging',
  'metrics',
  'rate-limit',
  'validation',
];
/** Every other folder of src/ is a feature; those that import other features name them above. */
const FEATURES = Object.fromEntries(
  readdirSync(new URL('./src', import.meta.url), { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !CROSS_CUTTING.includes(entry.name))
    .map((entry) => [entry.name, NAMED_DEPENDENCIES[entry.name] ?? []]),
);
const featureGroup = (feature) => [`src/${feature}/*`, `src/${feature}/**`];
const restrict = (groups) => ({
  'no-restricted-imports': [
    'error',
    {
      patterns: [{ group: ['./*', '../*'], message: 'Import with an absolute path (src/...).' }, ...groups],
    },
  ],
});
const dependencyRules = [
  ...CROSS_CUTTING.map((folder) => ({
    files: [`src/${folder}/**/*.ts`],
    // A spec may compose features (the configuration spec loads every slice).
    ignores: ['**/*.spec.ts'],
    rules: restrict([
      {
        group: Object.keys(FEATURES).flatMap(featureGroup),
        message: `src/${folder} is cross-cutting: it imports no feature (bind a port in AppModule instead).`,
      },
    ]),
  })),
  ...Object.entries(FEATURES).map(([feature, allowed]) => {
    const forbidden = Object.keys(FEATURES).filter((f) => f !== feature && !allowed.includes(f));
    const groups = [
      {
        group: forbidden.flatMap(featureGroup),
        message: `src/${feature} may import only the features it names (${allowed.join(', ') || 'none'}).`,
      },
    ];
    return { files: [`src/${feature}/**/*.ts`], rules: restrict(groups) };
  }),
  { files: ['test/**/*.ts', 'src/**/*.spec.ts'], ignores: ['test/global-setup.ts'], rules: restrict([]) },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.data/**', 'coverage/**', '**/*.js', '**/*.mjs'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  prettier,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
        // Lets consistent-type-imports know which imports decorator metadata needs at runtime (DTOs).
        emitDecoratorMetadata: true,
        experimentalDecorators: true,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['test/**/*.ts', '**/*.spec.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  ...dependencyRules,
);

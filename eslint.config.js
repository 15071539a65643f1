// Lint rules, including the layering of DESIGN.md §3 expressed as import restrictions.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

// Tests may wire real adapters into what they test; the layering binds production code.
const TESTS = ['**/*.test.ts'];
const ADAPTERS = ['**/duckdb/**', '**/postgres/**', '**/bigquery/**', '**/gcp-kms/**'];
const restrict = (patterns, message) => ({
  'no-restricted-imports': ['error', { patterns: [{ group: patterns, message }] }],
});

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'coverage/', 'test-artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
      eqeqeq: ['error', 'always'],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: restrict(['../*'], 'core/ imports nothing internal.'),
  },
  {
    files: ['src/pipeline/**/*.ts'],
    ignores: TESTS,
    rules: restrict([...ADAPTERS, '**/processors/**', '**/api/**', '**/services/**'], 'pipeline/ knows only the Processor and Warehouse interfaces.'),
  },
  {
    files: ['src/processors/**/*.ts'],
    ignores: TESTS,
    rules: restrict([...ADAPTERS, '**/api/**'], 'processors use the warehouse/control-store interfaces, never an adapter.'),
  },
  {
    files: ['src/services/**/*.ts'],
    ignores: TESTS,
    rules: restrict([...ADAPTERS, '**/api/**', '**/cli/**', '**/scheduler/**'], 'services depend on ports, not adapters or front-ends.'),
  },
  {
    files: ['src/api/**/*.ts'],
    ignores: TESTS,
    rules: restrict([...ADAPTERS, '**/cli/**', '**/scheduler/**', '**/processors/**', '**/control-store/**', '**/warehouse/**'], 'api/ calls services/, never processors, stores, cli/, scheduler/ or adapters.'),
  },
  {
    files: ['src/cli/**/*.ts'],
    ignores: TESTS,
    rules: restrict([...ADAPTERS, '**/api/**', '**/scheduler/**'], 'cli/ calls services/ or the HTTP API.'),
  },
  {
    files: ['src/scheduler/**/*.ts'],
    ignores: TESTS,
    rules: restrict([...ADAPTERS, '**/api/**', '**/cli/**'], 'scheduler/ calls services/.'),
  },
  {
    // The one place that reads the environment is config/; tests and scripts may print.
    files: ['src/**/*.ts'],
    ignores: ['src/config/**'],
    rules: { 'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read configuration from the Config object.' }] },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', '**/*.test.ts'],
    rules: { 'no-console': 'off' },
  },
);

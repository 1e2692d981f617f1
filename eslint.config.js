import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Layering the linter enforces: what each folder of src/ must never import. ESLint keeps one set of options per
 * rule and file (a later block replaces an earlier one, it does not add to it), so the rules are composed here,
 * each block carrying every restriction that holds for its files.
 */
const SRC_FOLDERS = readdirSync(join(import.meta.dirname, 'src'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);

const escape = (name) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A relative import that climbs into one of `folders` (a folder of src/): `../billing/x.js`, `../../keys/y.js`. */
function intoFolders(folders, message) {
  return { regex: `^(\\.\\./)+(${folders.map(escape).join('|')})(/|$)`, message };
}

/** Every folder of src/ except these: new feature folders are forbidden by default. */
const allBut = (...allowed) => SRC_FOLDERS.filter((name) => !allowed.includes(name));

/** The credit ledger is billing's: its entity is imported by billing and the data source's entity list only. */
const LEDGER_ENTITY = {
  regex: '(^|/)ledger-entry\\.entity(\\.js)?$',
  message: 'Only src/billing/ touches the credit ledger: call a billing service instead.',
};

/** Stripe is talked to from one folder: the SDK is imported by src/billing/stripe/ only. */
const STRIPE_SDK = {
  regex: '^stripe(/|$)',
  message: 'Only src/billing/stripe/ talks to Stripe: call its services instead.',
};

/** Money has one owner: SQL naming the ledger, a balance, held credit or a lease is written in src/billing/ only. */
const MONEY = 'credit_ledger|balance_micro|held_micro|credit_leases';
const LEDGER_SQL = [`Literal[value=/${MONEY}/]`, `TemplateElement[value.raw=/${MONEY}/]`].map((selector) => ({
  selector,
  message:
    'Only src/billing/ (and migrations/) write SQL on the ledger, balances and leases: call a billing service instead.',
}));

const LAYERS = [
  {
    files: ['src/providers/**'],
    patterns: [
      intoFolders(
        allBut('providers', 'common', 'config'),
        'providers/ maps requests and answers for the vendors: it imports only common/ and config/ (no database, ' +
          'billing, keys, chat, accounts, routing, health or catalog).',
      ),
    ],
  },
  {
    files: ['src/common/**'],
    patterns: [
      intoFolders(
        allBut('common', 'config'),
        'common/ is shared by every feature module, so it imports none of them.',
      ),
    ],
  },
  {
    files: ['src/catalog/**'],
    patterns: [
      intoFolders(
        ['billing', 'providers'],
        'catalog/ describes models and prices for the others: it imports neither billing/ nor providers/ (shared ' +
          'names live in common/: provider ids, deployments; or beside the catalog: credits.ts).',
      ),
    ],
  },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**', 'src/dashboard/public/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      curly: 'error',
    },
  },
  {
    files: ['src/**/*.ts', 'bench/**/*.ts'],
    ignores: ['src/billing/**', 'src/database/data-source.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [LEDGER_ENTITY, STRIPE_SDK] }],
      'no-restricted-syntax': ['error', ...LEDGER_SQL],
    },
  },
  {
    files: ['src/billing/**/*.ts'],
    ignores: ['src/billing/stripe/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [STRIPE_SDK] }] },
  },
  ...LAYERS.map(({ files, patterns }) => ({
    files,
    rules: { 'no-restricted-imports': ['error', { patterns: [LEDGER_ENTITY, STRIPE_SDK, ...patterns] }] },
  })),
  {
    files: ['test/**/*.ts', '**/*.spec.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    files: ['eslint.config.js', 'web/build.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
);

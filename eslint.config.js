// Type-aware lint for every workspace: the rules that catch the bugs a
// federated service cannot afford (unawaited promises, non-exhaustive switches).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

// Package boundaries (docs/architecture.md, "Package layout"). A package is
// imported by its name, through its package.json `exports` (`@tessera/gateway`,
// `@tessera/node-adapter/testing`, ...), never by a path into its files; a
// relative import never leaves its own package. Dependencies point one way:
// tests → gateway, node-adapter → http-kit → schemas; the two services never
// import each other. Production code (src/, bin/) imports no test library and
// no test support.
const ALLOWED_DEPENDENCIES = {
  schemas: [],
  'http-kit': ['schemas'],
  'node-adapter': ['schemas', 'http-kit'],
  gateway: ['schemas', 'http-kit'],
  tests: ['schemas', 'http-kit', 'node-adapter', 'gateway'],
};
const PACKAGES = Object.keys(ALLOWED_DEPENDENCIES);
const TOP_LEVEL = [...PACKAGES, 'deploy', 'docs'].join('|');
/** A relative path that climbs to the repository root and into a top-level folder. */
const LEAVES_PACKAGE = `^(\\.\\./)+(${TOP_LEVEL})(/|$)`;

const SERVICES = { gateway: 'node-adapter', 'node-adapter': 'gateway' };
const STAYS_INSIDE =
  'A relative import stays inside its package; import another package by its name (@tessera/...).';

function boundaries(pkg, { production }) {
  const allowed = ALLOWED_DEPENDENCIES[pkg];
  const other = SERVICES[pkg];
  const forbidden = PACKAGES.filter((p) => !allowed.includes(p) && p !== other);
  const patterns = [
    { regex: LEAVES_PACKAGE, message: STAYS_INSIDE },
    {
      regex: '^@tessera/[^/]+/(src|test|bin|scripts)(/|$)',
      message:
        'Import a package through its exports (@tessera/x, @tessera/x/testing), never its files.',
    },
    {
      regex: `^@tessera/(${forbidden.join('|')})(/|$)`,
      message: `Dependencies point one way (tests → services → http-kit → schemas): ${pkg} imports ${allowed.map((p) => `@tessera/${p}`).join(', ') || 'no other package'}, and its own modules relatively.`,
    },
  ];
  if (other) {
    patterns.push({
      regex: `^@tessera/${other}(/|$)`,
      message:
        'The gateway and the node adapter never import each other: what both need lives in @tessera/schemas or @tessera/http-kit.',
    });
  }
  if (production) {
    patterns.push({
      regex:
        '^(vitest|@vitest/[^/]+|fast-check|supertest|oidc-provider|playwright-core|@medplum/[^/]+)(/|$)|^@tessera/[^/]+/(testing|oracle)$|^(\\.\\./)+test(/|$)',
      message: 'Production code imports no test library and no test support (test/).',
    });
  }
  return ['error', { patterns }];
}

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/.data/**',
      'coverage/**',
      '**/generated/**',
      'gateway/dist/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/only-throw-error': 'error',
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['gateway/src/web/**/*.js'],
    languageOptions: { globals: { ...globals.browser } },
  },
  ...PACKAGES.map((pkg) => ({
    files: [`${pkg}/**/*.{ts,js}`],
    rules: { 'no-restricted-imports': boundaries(pkg, { production: false }) },
  })),
  ...PACKAGES.filter((pkg) => pkg !== 'tests').map((pkg) => ({
    files: [`${pkg}/src/**/*.{ts,js}`, `${pkg}/bin/**/*.js`],
    ignores: ['**/*.test.ts'],
    rules: { 'no-restricted-imports': boundaries(pkg, { production: true }) },
  })),
  {
    // import('...') is not an import declaration; the same rule for its literal paths.
    files: ['**/*.{ts,js}'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: `ImportExpression > Literal[value=/${LEAVES_PACKAGE.replaceAll('/', '\\u002F')}/]`,
          message: STAYS_INSIDE,
        },
      ],
    },
  },
  {
    files: ['**/*.test.ts', 'tests/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);

// The one lint configuration (issue 11 item 4): typescript-eslint's type-checked rules over every TypeScript source the root
// tsconfig.json type-checks, so a floating promise, an unchecked `any` or a switch that forgets a case fails `npm test`.
// Formatting is ESLint Stylistic's job (eslint.format.config.js, `npm run format`); nothing here is about layout.
import comments from '@eslint-community/eslint-plugin-eslint-comments/configs';
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

// The same globs as tsconfig.json's include: the sources Node runs by type stripping, with `.ts` imports.
export const sources = [
  'apps/*/src/**/*.ts',
  'apps/*/test/**/*.ts',
  'packages/*/src/**/*.ts',
  'packages/*/test/**/*.ts',
  'test/**/*.ts',
  'scripts/**/*.ts',
  'bench/**/*.ts',
];

/** The rules for `files` (globs relative to the config file that calls this: packages/cnf-verifier's own config reuses them). */
export function typeCheckedRules(files) {
  return defineConfig({
    files,
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked, comments.recommended],
    linterOptions: {
      // A disable comment that no longer silences anything is itself reported, so line-level disables cannot pile up unseen.
      reportUnusedDisableDirectives: 'error',
    },
    languageOptions: {
      parserOptions: {
        // Every file resolves to the root tsconfig.json (the only tsconfig.json in the repo): the same program `npm run typecheck` builds.
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // No blanket disables: a disable names its rules, covers one line and says why (`// eslint-disable-next-line rule -- reason`).
      '@eslint-community/eslint-comments/no-unlimited-disable': 'error',
      '@eslint-community/eslint-comments/no-use': ['error', { allow: ['eslint-disable-next-line', 'eslint-disable-line'] }],
      '@eslint-community/eslint-comments/require-description': 'error',
      '@typescript-eslint/ban-ts-comment': ['error', { 'ts-expect-error': 'allow-with-description', minimumDescriptionLength: 10 }],
      // node:test's test(), it(), describe() and suite() return promises that the runner itself awaits; every other promise is awaited or handled.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }] },
      ],
      // A switch over a union names every member, unless a `default:` says on purpose "all the others".
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { requireDefaultForNonUnion: false, considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-import-type-side-effects': 'error',
      '@typescript-eslint/no-unnecessary-type-assertion': 'error',
      // Unused locals and parameters are the type check's (noUnusedLocals, noUnusedParameters in tsconfig.base.json, `_` prefix for a
      // required but unused parameter): one check, one convention, instead of two that disagree on `_` and on catch bindings.
      '@typescript-eslint/no-unused-vars': 'off',
      // `let x;` read by a callback made before its one assignment (a server handler bound once the server listens) stays `let`:
      // `const` there would move the declaration below the callback that reads it.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // `async` without `await` is how this code implements a Promise-returning contract (oidc-provider's findAccount and adapters,
      // AccountSource, the KV and replay stores): a throw becomes a rejection the caller handles. Dropping `async` to please the rule
      // would turn those rejections into synchronous throws. Promises themselves are covered by no-floating-promises,
      // no-misused-promises and await-thenable.
      '@typescript-eslint/require-await': 'off',
    },
  });
}

export const ignored = ['**/dist/', '**/node_modules/', '**/.data/'];

/**
 * The peer certificate is read in ONE place, the verifier's certificate source (its cache per socket): getPeerCertificate()
 * crashes Node 24 (SIGSEGV) on a brainpool or secp256k1 client key, and a second getPeerX509Certificate() on a socket no longer
 * links the intermediates the client sent (both happened; test/security/weak-keys caught them).
 */
const peerCertificateReads = [
  { selector: "MemberExpression[property.name='getPeerCertificate']", message: 'getPeerCertificate() crashes Node 24 on some client keys: use the certificate source (@certbound/cnf-verifier).' },
  { selector: "MemberExpression[property.name='getPeerX509Certificate']", message: 'read the peer certificate through the certificate source (@certbound/cnf-verifier createCertificateSource), which reads it once per socket.' },
];

export default defineConfig(
  globalIgnores(ignored),
  typeCheckedRules(sources),
  {
    files: ['apps/*/src/**/*.ts', 'packages/*/src/**/*.ts'],
    ignores: ['packages/cnf-verifier/src/certificate.ts'],
    rules: { 'no-restricted-syntax': ['error', ...peerCertificateReads] },
  },
  // The console's browser modules (plain JavaScript, type-checked by apps/authz-server/console/tsconfig.json, which also checks
  // every name, hence no no-undef): nothing parses HTML, so a client name or certificate subject is always rendered as text.
  {
    files: ['apps/authz-server/console/**/*.js'],
    extends: [js.configs.recommended],
    rules: {
      'no-undef': 'off',
      'no-restricted-properties': ['error', ...['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'createContextualFragment', 'write', 'writeln']
        .map((property) => ({ property, message: 'build nodes with dom.js h() / s(): data is never parsed as HTML in the console' }))],
      'no-restricted-globals': ['error', { name: 'DOMParser', message: 'data is never parsed as HTML in the console' }],
      'no-restricted-syntax': ['error', { selector: "CallExpression[callee.property.name='setAttribute'][arguments.0.value=/^(style|on)/i]", message: 'no inline style or handler: the CSP blocks them' }],
    },
  },
);

// The one formatter (issue 11 item 4): ESLint Stylistic, run by `npm run format` (fix) and `npm run format:check`, apart from the
// type-checked lint (eslint.config.js). Chosen over Prettier and dprint because it keeps the hand-laid layout the code already has
// (several short properties or statements on a line, flat chained ternaries, lines up to 160) and fixes only what is inconsistent:
// on this tree it changed ~90 lines where Prettier changed ~9,700 and dprint ~7,800 at the same width.
import comments from '@eslint-community/eslint-plugin-eslint-comments';
import stylistic from '@stylistic/eslint-plugin';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';
import { sources } from './eslint.config.js';

const preset = stylistic.configs.customize({
  indent: 2,
  quotes: 'single',
  semi: true,
  commaDangle: 'always-multiline',
  braceStyle: '1tbs',
  arrowParens: true,
  quoteProps: 'as-needed',
  jsx: false,
});

export default defineConfig(
  globalIgnores(['**/dist/', '**/node_modules/', '**/.data/']),
  {
    files: sources,
    // Layout needs the syntax tree only, not types: the check runs in seconds.
    languageOptions: { parser: tseslint.parser },
    linterOptions: { reportUnusedDisableDirectives: 'off' },
    // The lint's plugins are loaded (none of their rules on) so that a line's `eslint-disable-next-line @typescript-eslint/...`
    // names a rule this run knows.
    plugins: { '@stylistic': stylistic, '@typescript-eslint': tseslint.plugin, '@eslint-community/eslint-comments': comments },
    rules: {
      ...preset.rules,
      // Lines: up to 160 columns of code; comments, strings, templates, regular expressions and URLs may run longer, as they do today.
      '@stylistic/max-len': [
        'error',
        { code: 160, ignoreComments: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true },
      ],
      // Short related items share a line (`operationId, tags, summary`, `{ visit(w); low.set(...) }`): the house layout, not a defect.
      '@stylistic/list-style': 'off',
      '@stylistic/max-statements-per-line': 'off',
      '@stylistic/multiline-ternary': 'off',
      // "o'brien" stays in double quotes rather than becoming 'o\'brien'.
      '@stylistic/quotes': ['error', 'single', { avoidEscape: true, allowTemplateLiterals: 'always' }],
      // A wrapped `a +`, `x =` or `A &` ends its line; a wrapped ternary or union type starts the next with `?`, `:` or `|`.
      '@stylistic/operator-linebreak': [
        'error',
        'after',
        { overrides: { '?': 'before', ':': 'before', '|': 'before', '&&': 'ignore', '||': 'ignore', '??': 'ignore' } },
      ],
      // A wrapped operand may sit one level deeper than the line it continues (`'a ' +` then `'b'` indented), as written today.
      '@stylistic/indent-binary-ops': 'off',
      '@stylistic/indent': ['error', 2, { ...preset.rules['@stylistic/indent'][2], flatTernaryExpressions: true, offsetTernaryExpressions: false }],
    },
  },
);

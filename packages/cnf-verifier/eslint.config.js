// The verifier's lint: the repository's rules (../../eslint.config.js), plus the one the published package needs most: its
// sources stand alone, importing only Node, their declared dependencies and each other, never the server or anything outside src/.
// ESLint 10 finds this file for every file under packages/cnf-verifier, also when `npm run lint` runs from the root.
import { defineConfig, globalIgnores } from 'eslint/config';
import { ignored, typeCheckedRules } from '../../eslint.config.js';

const standAlone = (outside) => ({
  patterns: [
    { group: [outside], message: 'the published package ships only dist/ built from src/: import from src/ only' },
    { group: ['@certbound/*', '!@certbound/cnf-verifier'], message: 'the verifier must not depend on the server' },
  ],
});

export default defineConfig(
  globalIgnores(ignored),
  typeCheckedRules(['src/**/*.ts', 'test/**/*.ts']),
  { files: ['src/*.ts'], rules: { 'no-restricted-imports': ['error', standAlone('../*')] } },
  { files: ['src/adapters/*.ts'], rules: { 'no-restricted-imports': ['error', standAlone('../../*')] } },
);

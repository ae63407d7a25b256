import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Folder boundaries (DEVELOPERS.md "Layout"): protocol/ is the pure contract and imports nothing
// else; dispvm-worker/ and orchestrator/ import only protocol/ (any of its modules); inside
// orchestrator/ the subfolders are layers, each importing only those below it:
// cli -> transaction -> verify -> worker -> qubes, repos -> errors.ts, error-catalogue.ts.
// sim/ reaches the orchestrator only through orchestrator/index.ts. Tests, benchmarks, the fuzzer
// and scripts may import anything.
const LAYERS = ['cli', 'transaction', 'verify', 'worker', 'qubes', 'repos'];
const OUTSIDE_ORCHESTRATOR = {
  regex: '(^|/)(dispvm-worker|sim|test|bench|fuzz|scripts)/',
  message: 'orchestrator/ imports only protocol/ from outside itself.',
};
function boundary(files, patterns) {
  return { files, rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns }] } };
}
function layer(name, below, exception = '') {
  const above = LAYERS.filter((l) => l !== name && l !== 'cli' && !below.includes(l));
  const allowed = [...below, 'errors.ts', 'protocol/'].join(', ');
  const patterns = [
    OUTSIDE_ORCHESTRATOR,
    {
      // The run's context is built by cli/context.ts; a lower layer may name its type (App,
      // RepoSet), which the compiler erases, but calls nothing of cli/.
      regex: '(^|/)cli/',
      allowTypeImports: true,
      message: `orchestrator/${name}/ may import only ${allowed} (the layers below it), and types of cli/context.ts.`,
    },
  ];
  if (above.length > 0)
    patterns.push({
      regex: `(^|/)(${above.join('|')})/${exception}`,
      message: `orchestrator/${name}/ may import only ${allowed} (the layers below it).`,
    });
  return boundary([`orchestrator/${name}/**`], patterns);
}
const boundaries = [
  boundary(
    ['protocol/**'],
    [{ regex: '^\\.\\./', message: 'protocol/ is pure: it imports nothing outside protocol/.' }],
  ),
  boundary(
    ['dispvm-worker/**'],
    [{ regex: '^\\.\\./(?!protocol/)', message: 'dispvm-worker/ imports only protocol/.' }],
  ),
  boundary(
    ['orchestrator/*.ts'],
    [
      OUTSIDE_ORCHESTRATOR,
      { regex: '^\\./[^/]+/', message: 'errors.ts and error-catalogue.ts are the bottom layer.' },
    ],
  ),
  // index.ts, the folder's entry, may export from any layer.
  boundary(['orchestrator/index.ts'], [OUTSIDE_ORCHESTRATOR]),
  boundary(['orchestrator/cli/**'], [OUTSIDE_ORCHESTRATOR]),
  layer('transaction', ['verify', 'worker', 'qubes', 'repos']),
  layer('verify', ['worker', 'qubes', 'repos']),
  // The worker session records the disposable it starts in the cleanup journal, so that a killed
  // tmpl's guard removes it: the one import of a layer above.
  layer('worker', ['qubes', 'repos'], '(?!cleanup-journal\\.ts$)'),
  layer('qubes', []),
  layer('repos', []),
  boundary(
    ['sim/**'],
    [
      {
        regex: '(^|/)orchestrator/(?!index\\.ts$)',
        message: 'sim/ uses the orchestrator only through orchestrator/index.ts.',
      },
      { regex: '(^|/)dispvm-worker/', message: 'sim/ runs the worker as a program; it does not import it.' },
    ],
  ),
];

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'coverage/**',
      'bin/**',
      'dist/**',
      'scripts/**',
      'sim/bin/**',
      '.ci/**',
      'eslint.config.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allowNullish: true },
      ],
      '@typescript-eslint/no-floating-promises': 'error',
      'no-control-regex': 'off',
    },
  },
  ...boundaries,
  {
    // Small functions in the trusted side (issue 11): longer ones hide what a reviewer must check.
    files: ['orchestrator/**/*.ts'],
    rules: {
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    files: ['test/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);

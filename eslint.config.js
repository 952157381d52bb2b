// Lint rules: typescript-eslint recommended, plus the room boundary that keeps transports out of the pipeline.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.tools/', '.mandate/', 'src/gen/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['fastify', 'fastify/*', '@grpc/*', '../transport/*', '../cli/*'],
              message: 'core/ must not know about transports.',
            },
          ],
        },
      ],
    },
  },
  {
    // Every outbound request goes through fetchWithDeadline: a bare fetch, or a deadline made of
    // AbortSignal.timeout/any (which can stop firing after a garbage collection on Node 20), can
    // hang a caller forever.
    files: ['src/**/*.ts'],
    ignores: ['src/lib/fetch-deadline.ts', 'src/gen/**'],
    rules: {
      'no-restricted-globals': [
        'error',
        { name: 'fetch', message: 'Use fetchWithDeadline from src/lib/fetch-deadline.ts.' },
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'globalThis',
          property: 'fetch',
          message: 'Use fetchWithDeadline from src/lib/fetch-deadline.ts.',
        },
        {
          object: 'AbortSignal',
          property: 'timeout',
          message: 'Use fetchWithDeadline (its timer cannot be garbage collected).',
        },
        {
          object: 'AbortSignal',
          property: 'any',
          message: 'Use fetchWithDeadline (a composite signal can stop aborting on Node 20).',
        },
      ],
    },
  },
  {
    files: ['bench/**/*.mjs', 'scripts/**/*.mjs'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
      },
    },
  },
);

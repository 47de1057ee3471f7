import tseslint from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';

const nodeBuiltins = ['node:*', 'fs', 'path', 'os', 'child_process', 'crypto', 'url', 'util', 'stream', 'events', 'http', 'https', 'net', 'worker_threads', 'zlib', 'buffer', 'process'];

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'release/**', 'node_modules/**', '.electron-native/**', 'test-results/**'] },
  ...tseslint.configs.recommended,
  ...svelte.configs.recommended,
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] }, globals: globals.browser },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // The contract is shared by every process: no Electron, Node or DOM.
    files: ['src/shared/**/*.ts'],
    languageOptions: { globals: {} },
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['electron', 'electron/*'], message: 'src/shared must not import Electron.' },
        { group: nodeBuiltins, message: 'src/shared must not import Node built-ins.' },
        { group: ['better-sqlite3', 'onnxruntime-node', 'ws', '@huggingface/transformers'], message: 'src/shared must not import runtime-specific packages.' },
        { group: ['**/main/**', '**/renderer/**', '**/preload/**'], message: 'src/shared must not import from other layers.' },
      ] }],
      'no-restricted-globals': ['error', 'window', 'document', 'process', 'Buffer', 'require', 'navigator', 'localStorage'],
    },
  },
  {
    // The engine runs in plain Node (CLI, serve, utilityProcess): never Electron.
    files: ['src/main/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['electron', 'electron/*'], message: 'src/main/engine must not import Electron.' },
        { group: ['**/renderer/**', '**/preload/**', '**/transports/**'], message: 'the engine must not import UI or transport layers.' },
      ] }],
    },
  },
  {
    files: ['src/renderer/**/*.{ts,svelte}'],
    languageOptions: { globals: globals.browser },
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['electron', 'electron/*', ...nodeBuiltins], message: 'The renderer runs in a sandbox: no Electron or Node.' },
        { group: ['**/main/**', '**/preload/**'], message: 'The renderer only knows src/shared.' },
      ] }],
    },
  },
  {
    files: ['src/main/**/*.ts', 'src/preload/**/*.ts', 'test/**/*.{ts,mjs,js}', 'bench/**/*.{ts,mjs,js}', 'scripts/**/*.{mjs,js}', 'bin/**/*.js', '*.config.{ts,js}'],
    languageOptions: { globals: globals.node },
  },
);

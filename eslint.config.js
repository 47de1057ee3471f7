import tseslint from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';

/** Import patterns naming folders of src/main, however deep the relative path. */
function mainLayers(names) {
  return names.flatMap((name) => [`**/main/${name}`, `**/main/${name}/**`, `../${name}`, `../${name}/**`, `../../${name}`, `../../${name}/**`, `./${name}`, `./${name}/**`]);
}

/** Rules for every file of src/main outside the engine. */
const mainRules = [
  { group: ['**/preload', '**/preload/**'], message: 'src/main must not import from src/preload: shared vocabulary belongs in src/shared.' },
  { group: ['**/engine/**'], message: 'import the engine through its entry file (src/main/engine/index.ts); add a re-export there if needed.' },
];

const nodeBuiltins = ['node:*', 'fs', 'path', 'os', 'child_process', 'crypto', 'url', 'util', 'stream', 'events', 'http', 'https', 'net', 'worker_threads', 'zlib', 'buffer', 'process'];

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'release/**', 'node_modules/**', '.electron-native/**', 'test-results/**', '.inkwell-test/**'] },
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
  // A folder says which process its code runs in (docs: /work/shared/ARCHITECTURE.md "What runs where").
  {
    // The engine runs in plain Node (CLI, the inference process) and sits below everything else in main.
    files: ['src/main/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['electron', 'electron/*'], message: 'src/main/engine must not import Electron.' },
        { group: ['**/renderer/**', '**/preload/**', '**/transports/**'], message: 'the engine must not import UI or transport layers.' },
        { group: mainLayers(['api', 'history', 'inference', 'inference-process', 'transports', 'common', 'app', 'cli']), message: 'the engine imports nothing above it in src/main.' },
      ] }],
    },
  },
  {
    // The inference process's side (a utilityProcess or a plain Node child): no Electron, no main-process parts.
    files: ['src/main/inference-process/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['electron', 'electron/*'], message: 'the inference process must not import Electron (it also runs as a plain Node child in serve mode).' },
        { group: mainLayers(['api', 'history', 'inference', 'transports', 'app', 'cli']), message: 'the inference process uses only the engine and src/main/common.' },
        ...mainRules,
      ] }],
    },
  },
  {
    // Code both processes use: no Electron, nothing that belongs to either side.
    files: ['src/main/common/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['electron', 'electron/*'], message: 'src/main/common runs in both processes: no Electron.' },
        { group: mainLayers(['api', 'history', 'inference', 'inference-process', 'transports', 'app', 'cli']), message: 'src/main/common must not depend on either side.' },
        ...mainRules,
      ] }],
    },
  },
  {
    // The batch core: plain Node, used by the CLI and by the API's batch handlers alike.
    files: ['src/main/batch/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['electron', 'electron/*'], message: 'src/main/batch runs in the CLI too: no Electron.' },
        { group: mainLayers(['api', 'history', 'inference', 'inference-process', 'transports', 'app', 'cli']), message: 'the batch core is used by the CLI and the API; it depends on neither.' },
        ...mainRules,
      ] }],
    },
  },
  {
    // The main process's side of inference: it starts the child, it never runs the child's code.
    files: ['src/main/inference/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: mainLayers(['inference-process']), message: 'the main side talks to the inference process through src/main/common/inference-protocol.ts only.' },
        ...mainRules,
      ] }],
    },
  },
  {
    files: ['src/main/**/*.ts'],
    ignores: ['src/main/engine/**', 'src/main/inference-process/**', 'src/main/common/**', 'src/main/inference/**', 'src/main/batch/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: mainRules }] },
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

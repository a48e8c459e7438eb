// Lint for the whole repo. The LAYERS table below is the architecture: which folder may import
// which. Do not relax it; move code instead. test/lint-layers.test.ts feeds it violations.
import tseslint from 'typescript-eslint';

const NODE_BUILTINS = ['node:*', 'fs', 'fs/*', 'path', 'net', 'tls', 'http', 'https', 'crypto', 'os', 'child_process', 'stream', 'events', 'util', 'url', 'dgram', 'dns', 'worker_threads'];

/** folder → groups of import patterns it must not use (relative paths are resolved by pattern). */
const LAYERS = {
  'common/**': {
    message: 'common/ imports nothing: no Node, no packages, no other layer.',
    patterns: [...NODE_BUILTINS, 'ws', 'node-forge', 'yaml', '@napi-rs/*', 'electron', 'react', 'react-dom', '**/tunnel/**', '**/proxy/**', '**/main/**', '**/renderer/**'],
  },
  'tunnel/**': {
    message: 'tunnel/ imports only common/ (and Node, ws).',
    patterns: ['electron', 'react', 'react-dom', '**/proxy/**', '**/main/**', '**/renderer/**'],
  },
  'proxy/**': {
    message: 'proxy/ imports only common/ and tunnel/.',
    patterns: ['electron', 'react', 'react-dom', '@napi-rs/*', '**/main/**', '**/renderer/**'],
  },
  'main/core/**': {
    message: 'main/core/ imports only common/ and tunnel/; it runs in plain Node.',
    patterns: ['electron', 'react', 'react-dom', '**/proxy/**', '**/renderer/**', '**/main/electron/**', '**/main/cli/**'],
  },
  'main/cli/**': {
    message: 'main/cli/ is a host of main/core; it does not reach into the proxy, Electron or the renderer.',
    patterns: ['electron', 'react', 'react-dom', '**/proxy/**', '**/renderer/**', '**/main/electron/**'],
  },
  'main/electron/**': {
    message: 'main/electron/ is a host of main/core; it does not reach into the proxy, the CLI or the renderer.',
    patterns: ['react', 'react-dom', '**/proxy/**', '**/renderer/**', '**/main/cli/**'],
  },
  'renderer/**': {
    message: 'renderer/ imports only common/ and React: never Node, Electron, ws or main/.',
    patterns: [...NODE_BUILTINS, 'electron', 'ws', 'node-forge', 'yaml', '@napi-rs/*', '**/tunnel/**', '**/proxy/**', '**/main/**'],
  },
};

const layerBlocks = Object.entries(LAYERS).map(([files, { message, patterns }]) => ({
  files: [files.replace(/\*\*$/, '**/*.{ts,tsx}')],
  // Unit tests run in Node whatever layer they test; they still may not reach across layers.
  ignores: ['**/*.test.ts'],
  rules: {
    'no-restricted-imports': ['error', { patterns: [{ group: patterns, message }] }],
  },
}));

export default tseslint.config(
  { ignores: ['node_modules/**', 'test-artifacts/**', 'dist/**', '**/*.js', '**/*.mjs', '.latch-demo/**'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }] }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'error',
      'no-restricted-syntax': ['error', { selector: "CallExpression[callee.property.name='only']", message: 'No focused tests.' }, { selector: "Property[key.name='only'][value.value=true]", message: 'No focused tests.' }],
    },
  },
  // Entry points print to the terminal; everything else uses the logger.
  { files: ['main/cli/cli.ts', 'proxy/cli.ts', 'bench/**/*.ts', 'scripts/**/*.ts'], rules: { 'no-console': 'off' } },
  ...layerBlocks,
  // main/preload.ts sits outside the root project: main/electron/tsconfig.json type-checks it.
  {
    files: ['main/preload.ts'],
    languageOptions: { parserOptions: { projectService: false, project: ['./main/electron/tsconfig.json'], tsconfigRootDir: import.meta.dirname } },
    rules: {
      'no-restricted-imports': ['error', { patterns: [{
        group: [...NODE_BUILTINS, 'ws', 'node-forge', 'yaml', '@napi-rs/*', 'react', 'react-dom', '**/tunnel/**', '**/proxy/**', '**/main/core/**', '**/main/electron/**', '**/main/cli/**', '**/renderer/**'],
        message: 'main/preload.ts exposes common/ipc.ts through Electron\'s contextBridge and imports nothing else.',
      }] }],
    },
  },
);

// Builds the desktop app into dist/: the renderer (Vite + React) into dist/renderer, the Electron
// main process and the preload into dist/electron. The preload is one CommonJS file because a
// sandboxed preload can require nothing but a few Electron modules. Main is bundled too: our
// sources are TypeScript that Node runs by type stripping, which Electron's Node does not.
//
//   node main/electron/build.ts            renderer + main + preload
//   node main/electron/build.ts renderer   the renderer only (browser tests)
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import react from '@vitejs/plugin-react';
import { build } from 'vite';

export const ROOT = join(import.meta.dirname, '..', '..');
export const DIST = join(ROOT, 'dist');
export const RENDERER_DIST = join(DIST, 'renderer');
export const ELECTRON_DIST = join(DIST, 'electron');

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

/** The renderer as static files with relative URLs (loaded from file:// by Electron). */
export async function buildRenderer(outDir = RENDERER_DIST): Promise<string> {
  await build({
    configFile: false,
    logLevel: 'warn',
    root: join(ROOT, 'renderer'),
    base: './',
    plugins: [react()],
    build: { outDir, emptyOutDir: true, sourcemap: false, target: 'chrome120', modulePreload: { polyfill: false } },
  });
  return outDir;
}

export async function buildMain(outDir = ELECTRON_DIST): Promise<void> {
  await build({
    configFile: false,
    logLevel: 'warn',
    root: ROOT,
    build: {
      ssr: join(ROOT, 'main', 'electron', 'main.ts'),
      outDir,
      emptyOutDir: false,
      target: 'node22',
      minify: false,
      rolldownOptions: { output: { format: 'es', entryFileNames: 'main.mjs' } },
    },
  });
}

export async function buildPreload(outDir = ELECTRON_DIST): Promise<void> {
  await build({
    configFile: false,
    logLevel: 'warn',
    root: ROOT,
    build: {
      outDir,
      emptyOutDir: false,
      target: 'chrome120',
      minify: false,
      lib: { entry: join(ROOT, 'main', 'preload.ts'), formats: ['cjs'], fileName: () => 'preload.cjs' },
      rolldownOptions: { external: ['electron', ...nodeBuiltins] },
    },
  });
}

async function main(): Promise<void> {
  const what = process.argv[2] ?? 'all';
  if (what !== 'all' && what !== 'renderer') throw new Error('usage: node main/electron/build.ts [all|renderer]');
  await buildRenderer();
  if (what === 'all') {
    await buildMain();
    await buildPreload();
  }
  process.stdout.write(`built ${what === 'all' ? 'dist/renderer and dist/electron' : 'dist/renderer'}\n`);
}

if (import.meta.main) {
  main().catch((err: unknown) => {
    process.stderr.write(`build failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}

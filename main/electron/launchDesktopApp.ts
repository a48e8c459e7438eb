import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { findElectronBinary } from './findElectronBinary.ts';

export type DesktopLaunch = { child: ChildProcess } | { why: string };

/**
 * Builds and starts the desktop app for `npm start`, with an enrollment link as its deep link
 * (the window opens with sign-in filled in), or says why it cannot run here. The window goes to
 * LATCH_USER_DISPLAY when set (the person's own screen), else DISPLAY.
 */
export function launchDesktopApp(options: { root: string; link: string; env: NodeJS.ProcessEnv }): DesktopLaunch {
  const binary = findElectronBinary(options.root, options.env);
  if ('missing' in binary) return { why: binary.missing };
  const display = options.env['LATCH_USER_DISPLAY'] || options.env['DISPLAY'];
  if (process.platform === 'linux' && !display) return { why: 'no display to show a window on (DISPLAY is not set)' };
  const build = spawnSync(process.execPath, [join(options.root, 'main', 'electron', 'build.ts')], { cwd: options.root, encoding: 'utf8', timeout: 120_000 });
  if (build.status !== 0) return { why: `the desktop build failed: ${build.stderr || build.stdout}` };
  const env = { ...options.env, ...(display ? { DISPLAY: display } : {}) };
  const child = spawn(binary.path, [join(options.root, 'dist', 'electron', 'main.mjs'), options.link], { cwd: options.root, env, stdio: ['ignore', 'inherit', 'inherit'] });
  return { child };
}

import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/**
 * Where NAME would run from on env's PATH, or undefined. Used to say up front which helper is
 * missing (and which package provides it) instead of failing on the first sample.
 */
export function findExecutable(name: string, env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): string | undefined {
  const candidates = isAbsolute(name) ? [name] : (env.PATH ?? '').split(delimiter).filter((dir) => dir !== '').map((dir) => join(dir, name));
  const suffixes = platform === 'win32' ? ['', ...(env.PATHEXT ?? '.EXE;.CMD;.BAT;.COM').split(';').filter((s) => s !== '')] : [''];
  for (const base of candidates) {
    for (const suffix of suffixes) {
      const file = base + suffix;
      try {
        if (!statSync(file).isFile()) continue;
        accessSync(file, constants.X_OK);
        return file;
      } catch {
        // not here: try the next directory
      }
    }
  }
  return undefined;
}

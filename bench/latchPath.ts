// Placeholder until the proxy and client land; replaced below.
import type { Children } from './Children.ts';
import type { BenchPath, TargetPorts } from './BenchPath.ts';

export interface LatchPathOptions {
  root: string;
  dir: string;
  profileDir: string | null;
}

export function startLatchPath(_children: Children, _targets: TargetPorts, _options: LatchPathOptions): Promise<BenchPath> {
  return Promise.reject(new Error('the Latch proxy and client are not in this checkout yet'));
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChild, spawnChild } from './children.ts';
import type { Child } from './children.ts';
import { freePort } from './freePort.ts';

export interface RedisHandle {
  port: number;
  pid: number;
  child: Child;
  /** Runs redis-cli against this server directly (not through a tunnel); resolves with stdout. */
  cli(args: readonly string[], port?: number): Promise<string>;
  /** `INFO section` parsed into key → value. */
  info(section: string): Promise<Map<string, string>>;
  stop(): Promise<void>;
}

/**
 * A real redis-server on 127.0.0.1 for a test: no persistence, its own working directory, a
 * port chosen here (retried if another process takes it first). Stopped by its PID.
 */
export async function startRedis(options: { timeoutMs?: number } = {}): Promise<RedisHandle> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const dir = mkdtempSync(join(tmpdir(), 'latch-redis-'));
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child = spawnChild('redis-server', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--protected-mode', 'yes'], { cwd: dir });
    try {
      await child.waitFor(/Ready to accept connections/, timeoutMs);
    } catch (err) {
      lastError = err;
      await child.stop(500);
      continue;
    }
    const cli = async (args: readonly string[], target = port): Promise<string> => {
      const res = await runChild('redis-cli', 'redis-cli', ['-h', '127.0.0.1', '-p', String(target), ...args], { timeoutMs: 10_000 });
      if (res.code !== 0) throw new Error(`redis-cli ${args.join(' ')} exited ${res.code ?? res.signal}: ${res.stderr}`);
      return res.stdout;
    };
    return {
      port,
      pid: child.pid,
      child,
      cli,
      info: async (section) => {
        const text = await cli(['INFO', section]);
        return new Map(
          text
            .split(/\r?\n/)
            .filter((l) => l.includes(':') && !l.startsWith('#'))
            .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)] as [string, string]),
        );
      },
      stop: async () => {
        await child.stop(2_000);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`redis-server did not start: ${String(lastError)}`);
}

export interface DesktopEnvOptions {
  keyring?: boolean;
  display?: boolean;
  notifications?: boolean;
  /** Progress lines (what was started and stopped). */
  log?: (line: string) => void;
  /** Always-shown problems, such as a daemon that died during the run. Default: stderr. */
  warn?: (line: string) => void;
}

export interface DesktopEnv {
  env: Record<string, string>;
  root: string;
  /** PIDs of everything started and still owned (a restarted keyring has a new one). */
  readonly pids: number[];
  stop(): Promise<void>;
}

export function startDesktopEnv(options?: DesktopEnvOptions): Promise<DesktopEnv>;
export function waitForBusName(env: NodeJS.ProcessEnv, name: string, timeoutMs: number, pid?: number): Promise<number>;

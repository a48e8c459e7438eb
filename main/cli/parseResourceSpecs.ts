import { ErrorCode, LatchError } from '../../common/errors.ts';

export interface ResourceSpec {
  resourceId: string;
  /** 0 = an ephemeral port chosen by the OS. */
  port: number;
}

const ID = /^[A-Za-z0-9._-]{1,255}$/;

function parsePort(text: string, what: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new LatchError(ErrorCode.USAGE, `invalid ${what} "${text}": expected 1-65535`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw new LatchError(ErrorCode.USAGE, `invalid ${what} "${text}": expected 1-65535`);
  return port;
}

/**
 * `latch connect` arguments: each RESOURCE is `id` or `id:port`. `--port N` gives the first
 * resource N, the second N+1, and so on; an explicit `id:port` wins for its own resource.
 * Without either the OS picks a free port.
 */
export function parseResourceSpecs(args: readonly string[], basePort?: string): ResourceSpec[] {
  if (args.length === 0) throw new LatchError(ErrorCode.USAGE, 'name at least one resource to connect to');
  const base = basePort === undefined ? undefined : parsePort(basePort, '--port');
  if (base !== undefined && base + args.length - 1 > 65535) {
    throw new LatchError(ErrorCode.USAGE, `--port ${base} leaves no room for ${args.length} resources`);
  }
  const specs = args.map((arg, i): ResourceSpec => {
    const colon = arg.lastIndexOf(':');
    const id = colon >= 0 ? arg.slice(0, colon) : arg;
    if (!ID.test(id)) throw new LatchError(ErrorCode.USAGE, `invalid resource "${arg}": expected id or id:port`);
    const port = colon >= 0 ? parsePort(arg.slice(colon + 1), `port in "${arg}"`) : base === undefined ? 0 : base + i;
    return { resourceId: id, port };
  });
  const used = new Set<number>();
  for (const { port } of specs) {
    if (port !== 0 && used.has(port)) throw new LatchError(ErrorCode.USAGE, `port ${port} is given to two resources`);
    used.add(port);
  }
  return specs;
}

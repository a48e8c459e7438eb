import net from 'node:net';

/**
 * Whether a D-Bus session bus answers at `address` within `timeoutMs`: connects and starts the
 * SASL handshake every D-Bus connection begins with, and waits for the bus's first reply line
 * (OK or REJECTED: either means a live bus). Resolves with the reason it is not usable, or null.
 *
 * The keychain binding opens its bus connection synchronously on the JS thread, so a bus that
 * accepts the connection and never answers would freeze the process; asking first, off the
 * JS thread's critical path and with a deadline, turns that into a clear error.
 */
export async function probeSessionBus(address: string, timeoutMs: number): Promise<string | null> {
  const targets = unixPaths(address);
  if (targets.length === 0) return null; // tcp:, launchd: … — not ours to judge; the binding will say.
  let last = 'no address answered';
  for (const path of targets.slice(0, 8)) {
    const problem = await probeOne(path, timeoutMs);
    if (problem === null) return null;
    last = problem;
  }
  return last;
}

/** The socket paths of the `unix:` entries of a D-Bus address list (abstract ones as "\0name"). */
export function unixPaths(address: string): string[] {
  const paths: string[] = [];
  for (const entry of address.split(';')) {
    const colon = entry.indexOf(':');
    if (colon < 0 || entry.slice(0, colon) !== 'unix') continue;
    const keys = new Map<string, string>();
    for (const pair of entry.slice(colon + 1).split(',')) {
      const eq = pair.indexOf('=');
      if (eq > 0) keys.set(pair.slice(0, eq), unescapeValue(pair.slice(eq + 1)));
    }
    const path = keys.get('path');
    const abstract = keys.get('abstract');
    if (path !== undefined) paths.push(path);
    else if (abstract !== undefined) paths.push(`\0${abstract}`);
  }
  return paths;
}

/** D-Bus address values escape bytes as %XX. */
function unescapeValue(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function probeOne(path: string, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ path });
    let reply = '';
    let settled = false;
    const done = (problem: string | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(problem);
    };
    const timer = setTimeout(() => done(`the session bus at ${printable(path)} accepted a connection but did not answer within ${timeoutMs} ms`), timeoutMs);
    socket.on('connect', () => {
      const uid = typeof process.getuid === 'function' ? String(process.getuid()) : '0';
      socket.write(`\0AUTH EXTERNAL ${Buffer.from(uid, 'ascii').toString('hex')}\r\n`);
    });
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(/^(OK|REJECTED)\b/.test(reply) ? null : `the session bus at ${printable(path)} answered the handshake with "${reply.trim().slice(0, 60)}"`);
      else if (reply.length > 512) done(`the session bus at ${printable(path)} answered with something that is not D-Bus`);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => done(`cannot reach the session bus at ${printable(path)} (${err.code ?? err.message})`));
    socket.on('close', () => done(`the session bus at ${printable(path)} closed the connection`));
  });
}

function printable(path: string): string {
  return path.startsWith('\0') ? `unix:abstract=${path.slice(1)}` : `unix:path=${path}`;
}

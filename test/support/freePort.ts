import net from 'node:net';

/**
 * A loopback port that was free a moment ago (bound to 0, then released). A server started on
 * it can still lose a race with another process: callers that spawn servers retry on failure.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => (port > 0 ? resolve(port) : reject(new Error('no port from the probe'))));
    });
  });
}

// The browser tier's stand-in for Electron's main process: serves the built renderer on
// 127.0.0.1 with the app's CSP and answers the IPC contract over a WebSocket at /bridge through
// the same dispatchIpc/createIpcHandlers the app registers on ipcMain.
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import type { EventChannel, EventContract } from '../../../common/ipc.ts';
import { CONTENT_SECURITY_POLICY } from '../../../main/electron/contentSecurityPolicy.ts';
import { dispatchIpc } from '../../../main/electron/IpcHandlers.ts';
import type { IpcHandlers } from '../../../main/electron/IpcHandlers.ts';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

export interface BridgeServer {
  /** http://127.0.0.1:PORT/ — the page to open. */
  url: string;
  emit<E extends EventChannel>(event: E, payload: EventContract[E]): void;
  /** Requests refused because they came from another origin. */
  refusedOrigins: string[];
  close(): Promise<void>;
}

export async function startBridgeServer(options: { staticDir: string; handlers: IpcHandlers; onUnexpected?: (channel: string, err: unknown) => void }): Promise<BridgeServer> {
  const root = normalize(options.staticDir);
  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = normalize(join(root, path === '/' ? 'index.html' : path));
    if (!file.startsWith(root + sep)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-security-policy': CONTENT_SECURITY_POLICY, 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  };
  const http = createServer((req, res) => void serve(req, res));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const refusedOrigins: string[] = [];
  // Like main's sender check: only the page we served may talk to the engine.
  const wss = new WebSocketServer({
    server: http,
    path: '/bridge',
    verifyClient: ({ origin: from }: { origin: string }) => {
      if (from === origin) return true;
      refusedOrigins.push(from);
      return false;
    },
  });
  const sockets = new Set<WebSocket>();
  wss.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('message', (data: Buffer) => {
      let message: { id?: unknown; channel?: unknown; request?: unknown };
      try {
        message = JSON.parse(data.toString('utf8')) as typeof message;
      } catch {
        socket.close(1003, 'not JSON');
        return;
      }
      const { id } = message;
      if (typeof id !== 'number') return;
      void dispatchIpc(options.handlers, message.channel, message.request, options.onUnexpected).then((result) => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ id, result }));
      });
    });
  });
  return {
    url: `${origin}/`,
    refusedOrigins,
    emit(event, payload) {
      const text = JSON.stringify({ event, payload });
      for (const socket of sockets) if (socket.readyState === socket.OPEN) socket.send(text);
    },
    async close() {
      for (const socket of sockets) socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** Bundles bridgePage.ts into one classic script for page.addInitScript. */
export async function buildBridgeScript(): Promise<string> {
  const { build } = await import('vite');
  const out = await build({
    configFile: false,
    logLevel: 'warn',
    build: {
      write: false,
      minify: false,
      target: 'chrome120',
      lib: { entry: join(import.meta.dirname, 'bridgePage.ts'), formats: ['iife'], name: 'latchTestBridge', fileName: () => 'bridge.js' },
    },
  });
  const outputs = Array.isArray(out) ? out : [out];
  for (const o of outputs) {
    if ('output' in o) {
      const chunk = o.output.find((c) => c.type === 'chunk');
      if (chunk && chunk.type === 'chunk') return chunk.code;
    }
  }
  throw new Error('vite produced no bridge script');
}

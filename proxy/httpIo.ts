import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ErrorCode, LatchError, isLatchError } from '../common/errors.ts';
import type { SerializedError } from '../common/errors.ts';

/** Small HTTP plumbing shared by the API routes and the upgrade path. */

/** Requests larger than this are refused before parsing (a CSR is ~1 KiB). */
export const MAX_BODY_BYTES = 64 * 1024;

const STATUS_FOR: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.BAD_REQUEST]: 400,
  [ErrorCode.SUBPROTOCOL]: 400,
  [ErrorCode.AUTH_REJECTED]: 401,
  [ErrorCode.ENROLLMENT_INVALID]: 401,
  [ErrorCode.CERT_UNKNOWN]: 401,
  [ErrorCode.CERT_EXPIRED]: 401,
  [ErrorCode.TOKEN_INVALID]: 401,
  [ErrorCode.CERT_REVOKED]: 403,
  [ErrorCode.SESSION_ENDED]: 403,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.RENEWAL_LIMIT]: 409,
  [ErrorCode.RATE_LIMITED]: 429,
};

export function statusFor(err: LatchError): number {
  return STATUS_FOR[err.code] ?? 500;
}

/** Anything that is not a LatchError is an internal error whose details stay in the log. */
export function toLatchError(err: unknown): LatchError {
  return isLatchError(err) ? err : new LatchError(ErrorCode.INTERNAL, 'internal error', { cause: err });
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
  });
  res.end(payload);
}

export function sendError(res: ServerResponse, err: LatchError, status = statusFor(err)): void {
  const body: SerializedError = err.toJSON();
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, body);
}

/**
 * Refuses a WebSocket upgrade with an HTTP error and a JSON body, written on the raw socket
 * (no HTTP response object exists for upgrades). ws clients see it via 'unexpected-response'.
 */
export function refuseUpgrade(socket: Duplex, err: LatchError, status = statusFor(err)): void {
  if (socket.destroyed) return;
  const body = JSON.stringify(err.toJSON());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      '\r\n' +
      body,
  );
  // end() flushes; make sure a peer that never reads cannot hold the socket open.
  setTimeout(() => socket.destroy(), 2000).unref();
}

/** Reads a JSON body of at most `limit` bytes; larger → BAD_REQUEST with status 413. */
export function readJsonBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      reject(new BodyTooLarge(limit));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        reject(new BodyTooLarge(limit));
        // Keep draining so the 413 can be written; the response closes the connection.
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new LatchError(ErrorCode.BAD_REQUEST, 'the request body is not valid JSON'));
      }
    });
    req.on('error', (err) => {
      if (done) return;
      done = true;
      reject(new LatchError(ErrorCode.BAD_REQUEST, 'the request body could not be read', { cause: err }));
    });
  });
}

export class BodyTooLarge extends LatchError {
  readonly status = 413;
  constructor(limit: number) {
    super(ErrorCode.BAD_REQUEST, `the request body exceeds ${limit} bytes`);
  }
}

import type { EndReason } from '../../common/closeCodes.ts';
import { deserializeError, ErrorCode, LatchError } from '../../common/errors.ts';
import { describeEnd } from './session/describeEnd.ts';

/** Socket-level failures: the proxy is down, unreachable or went away mid-request. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
]);

/** Certificate verification failures once the CA is pinned: the server is not who the pin says. */
const TLS_VERIFY = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * Turns an error from node:https / ws into a LatchError: unreachable proxies become
 * LATCH_ERR_PROXY_UNREACHABLE, a server certificate that does not verify against the pinned CA
 * becomes LATCH_ERR_CA_MISMATCH. LatchErrors pass through unchanged.
 */
export function networkError(err: unknown, proxyUrl: string): LatchError {
  if (err instanceof LatchError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const detail = err instanceof Error ? err.message : String(err);
  if (typeof code === 'string' && UNREACHABLE.has(code)) {
    return new LatchError(ErrorCode.PROXY_UNREACHABLE, `cannot reach the proxy at ${proxyUrl} (${code})`, { cause: err });
  }
  if (typeof code === 'string' && TLS_VERIFY.has(code)) {
    return new LatchError(
      ErrorCode.CA_MISMATCH,
      `the proxy at ${proxyUrl} presented a certificate that does not verify against the pinned CA (${code}): refusing to talk to it`,
      { cause: err },
    );
  }
  return new LatchError(ErrorCode.PROXY_UNREACHABLE, `request to the proxy at ${proxyUrl} failed: ${detail}`, { cause: err });
}

const END_REASONS: ReadonlySet<string> = new Set(['idle', 'absolute', 'revoked', 'logout', 'replaced', 'error']);

/** A refusal because the session has ended; `reason` is why, as the proxy recorded it. */
export class EndedSessionError extends LatchError {
  readonly reason: EndReason;

  constructor(code: LatchError['code'], message: string, reason: EndReason) {
    super(code, message);
    this.name = 'EndedSessionError';
    this.reason = reason;
  }
}

/** The reason a refusal carries when the proxy said the session had ended, else undefined. */
export function endReasonOf(err: unknown): EndReason | undefined {
  return err instanceof EndedSessionError ? err.reason : undefined;
}

/**
 * Rebuilds the proxy's `{code, message, reason?}` error body. Refusals of an ended session carry
 * the reason it ended: the error is then an EndedSessionError whose message says it in plain words.
 */
export function errorFromBody(body: unknown): LatchError {
  const err = deserializeError(body);
  const reason = (body as { reason?: unknown } | null)?.reason;
  if (typeof reason === 'string' && END_REASONS.has(reason)) {
    const detail = err.message.trim();
    const plain = describeEnd(reason as EndReason);
    return new EndedSessionError(err.code, detail === '' ? plain : `${plain} (${detail})`, reason as EndReason);
  }
  return err;
}

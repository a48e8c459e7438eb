import { ErrorCode, LatchError } from '../../common/errors.ts';

/**
 * What an enrollment link carries: where the proxy is, the fingerprint of its CA (the pin, so
 * there is no trust-on-first-use), and a one-time sign-in code.
 */
export interface Enrollment {
  /** Origin of the proxy, always `https:`, no path, query or credentials (`https://host:port`). */
  proxyUrl: string;
  /** `sha256:` + 64 lowercase hex digits: the SHA-256 of the proxy CA certificate's DER. */
  caFingerprint: string;
  code: string;
}

const FINGERPRINT = /^sha256:([0-9a-f]{64}|[0-9a-f]{2}(?::[0-9a-f]{2}){31})$/;
const CODE = /^[A-Za-z0-9_-]{4,128}$/;
const LINK_KEYS = new Set(['proxy', 'fp', 'code']);

function bad(message: string): LatchError {
  return new LatchError(ErrorCode.USAGE, message);
}

/**
 * Normalises a CA fingerprint to `sha256:` + 64 lowercase hex digits. Accepts upper case and the
 * colon-separated form that `openssl x509 -fingerprint -sha256` prints; rejects anything else
 * (other algorithms, wrong length, missing prefix).
 */
export function normalizeFingerprint(text: string): string {
  const lower = text.trim().toLowerCase();
  const m = FINGERPRINT.exec(lower);
  if (!m?.[1]) {
    throw bad(`invalid CA fingerprint "${text}": expected sha256: followed by 64 hex digits`);
  }
  return `sha256:${m[1].replaceAll(':', '')}`;
}

/**
 * Normalises a proxy URL: https only, no credentials, path, query or fragment. Returns the
 * origin (`https://host:port`).
 */
export function normalizeProxyUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw bad(`invalid proxy URL "${text}"`);
  }
  if (url.protocol !== 'https:') throw bad(`proxy URL must use https: "${text}"`);
  if (url.username !== '' || url.password !== '') throw bad('proxy URL must not carry credentials');
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    throw bad(`proxy URL must be just https://host[:port], got "${text}"`);
  }
  if (url.hostname === '') throw bad(`proxy URL has no host: "${text}"`);
  return url.origin;
}

/** Checks an enrollment code's shape (the proxy decides whether it is valid). */
export function validateCode(code: string): string {
  if (!CODE.test(code)) throw bad('invalid enrollment code: expected 4-128 characters of [A-Za-z0-9_-]');
  return code;
}

/**
 * Parses `latch://enroll?proxy=<https URL>&fp=sha256:<hex>&code=<code>` strictly: every key
 * exactly once, no unknown keys, no other host or path.
 */
export function parseEnrollmentLink(link: string): Enrollment {
  let url: URL;
  try {
    url = new URL(link.trim());
  } catch {
    throw bad('invalid enrollment link: expected latch://enroll?proxy=…&fp=…&code=…');
  }
  if (url.protocol !== 'latch:') throw bad(`enrollment link must start with latch://, got "${url.protocol}"`);
  if (url.host !== 'enroll' || (url.pathname !== '' && url.pathname !== '/')) {
    throw bad('enrollment link must be latch://enroll?…');
  }
  if (url.username !== '' || url.password !== '' || url.hash !== '') throw bad('malformed enrollment link');
  const seen = new Map<string, string>();
  for (const [key, value] of url.searchParams) {
    if (!LINK_KEYS.has(key)) throw bad(`enrollment link has an unknown parameter "${key}"`);
    if (seen.has(key)) throw bad(`enrollment link repeats the parameter "${key}"`);
    seen.set(key, value);
  }
  const proxy = seen.get('proxy');
  const fp = seen.get('fp');
  const code = seen.get('code');
  if (proxy === undefined || fp === undefined || code === undefined) {
    throw bad('enrollment link needs proxy, fp and code');
  }
  return { proxyUrl: normalizeProxyUrl(proxy), caFingerprint: normalizeFingerprint(fp), code: validateCode(code) };
}

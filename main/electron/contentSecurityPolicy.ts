/**
 * The window's Content-Security-Policy, sent as a response header for every page the window
 * loads (renderer/index.html carries the same policy in a meta tag). Nothing inline, nothing
 * remote: scripts, styles and images come only from the app's own files.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "object-src 'none'",
  "frame-ancestors 'none'",
].join('; ');

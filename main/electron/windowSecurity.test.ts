import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONTENT_SECURITY_POLICY } from './contentSecurityPolicy.ts';
import { hardenContents, hardenSession } from './windowSecurity.ts';
import type { ContentsLike, SessionLike } from './windowSecurity.ts';

test('every response carries our CSP (replacing any other); every permission is denied', () => {
  let onHeaders: Parameters<SessionLike['webRequest']['onHeadersReceived']>[0] | undefined;
  let onRequest: Parameters<SessionLike['setPermissionRequestHandler']>[0] | undefined;
  let onCheck: Parameters<SessionLike['setPermissionCheckHandler']>[0] | undefined;
  const log: string[] = [];
  hardenSession({ webRequest: { onHeadersReceived: (l) => (onHeaders = l) }, setPermissionRequestHandler: (h) => (onRequest = h), setPermissionCheckHandler: (h) => (onCheck = h) }, (l) => log.push(l));
  let headers: Record<string, string[]> = {};
  onHeaders?.({ responseHeaders: { 'content-type': ['text/html'], 'Content-Security-Policy': ["default-src *"] } }, (r) => (headers = r.responseHeaders));
  assert.deepEqual(headers, { 'content-type': ['text/html'], 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] });
  assert.match(CONTENT_SECURITY_POLICY, /default-src 'none'/);
  assert.doesNotMatch(CONTENT_SECURITY_POLICY, /unsafe-inline|unsafe-eval|\*/);
  const answers: boolean[] = [];
  onRequest?.({}, 'media', (granted) => answers.push(granted));
  onRequest?.({}, 'notifications', (granted) => answers.push(granted));
  assert.deepEqual(answers, [false, false]);
  assert.equal(onCheck?.({}, 'clipboard-read'), false);
  assert.deepEqual(log, ['denied permission request: media', 'denied permission request: notifications']);
});

test('navigation, redirects, webviews and new windows are blocked', () => {
  const APP = 'file:///app/dist/renderer/index.html';
  const listeners = new Map<string, (event: { preventDefault(): void }, url: string) => void>();
  let openHandler: ((d: { url: string }) => { action: 'deny' }) | undefined;
  const contents: ContentsLike = {
    on: (event: string, listener: (event: { preventDefault(): void }, url: string) => void) => listeners.set(event, listener),
    setWindowOpenHandler: (h) => (openHandler = h),
  };
  const log: string[] = [];
  hardenContents(contents, APP, (l) => log.push(l));
  const attempt = (event: string, url: string): boolean => {
    let prevented = false;
    listeners.get(event)?.({ preventDefault: () => (prevented = true) }, url);
    return prevented;
  };
  assert.equal(attempt('will-navigate', 'https://evil.example/'), true);
  assert.equal(attempt('will-navigate', APP), false);
  assert.equal(attempt('will-redirect', 'file:///etc/passwd'), true);
  assert.equal(attempt('will-attach-webview', ''), true);
  assert.deepEqual(openHandler?.({ url: 'https://evil.example/' }), { action: 'deny' });
  assert.equal(log.length, 4);
});

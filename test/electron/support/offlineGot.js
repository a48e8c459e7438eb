// Loaded with `node --import` before electronegativity: its only network use (translations and
// Electron release notes from GitHub) fails at once instead of timing out and retrying, which
// crashes got 11 on Node 24 ("onCancel handler was attached after the promise settled"). Tests
// never reach the internet; every check that matters here is static.
import Module from 'node:module';

const offline = () => Promise.reject(new Error('offline: electronegativity runs without network in tests'));
offline.head = offline;
offline.get = offline;

const load = Module._load;
Module._load = function patchedLoad(request, ...rest) {
  if (request === 'got') return { __esModule: true, default: offline };
  return load.call(this, request, ...rest);
};

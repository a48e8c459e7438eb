// electronegativity (Doyensec's Electron security linter) over the desktop app's sources: the
// main process, the preload and the renderer, with package.json for the Electron version. It
// exits 0 whatever it finds, so its findings are read here (through its library API) and any HIGH
// or MEDIUM finding fails the test.
// Two of its checks are "review required": they fire on every preload and every protocol handler,
// whatever the code does. Those two lines carry electronegativity's own review mark
// (`// eng-disable CHECK`), and the review is REVIEWED below. The same sources are also scanned with
// the marks removed, so a mark can hide nothing but the reviewed manual-review finding on its line.
// A deliberately unsafe window runs through the same check first, so this test can fail.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { after, test } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..');
const RUNNER = join(import.meta.dirname, 'support', 'runElectronegativity.js');
const OFFLINE = join(import.meta.dirname, 'support', 'offlineGot.js');
const RUN_TIMEOUT_MS = 120_000;

interface Finding {
  issue: string;
  severity: string;
  confidence: string;
  file: string;
  location: string;
  sample: string;
  description: string;
  /** electronegativity's "review required": it flags every use, whatever the code does. */
  manualReview: boolean;
}

/**
 * Manual-review findings (electronegativity flags every use, whatever the code does) and why
 * each one is fine. Only these may carry an `eng-disable` mark.
 */
const REVIEWED: Array<{ issue: string; file: string; why: string }> = [
  {
    issue: 'PRELOAD_JS_CHECK',
    file: 'main/electron/main.ts',
    why: 'main/preload.ts exposes only createLatchApi(common/ipc.ts) through contextBridge, never ipcRenderer; main checks the sender and validates every payload (IpcRouter).',
  },
  {
    issue: 'PROTOCOL_HANDLER_JS_CHECK',
    file: 'main/electron/main.ts',
    why: 'latch:// only carries enrollment links: deepLink.ts accepts latch://enroll alone, the window only pre-fills the sign-in form with it, and the engine parses it strictly (https proxy, pinned CA fingerprint) when the person signs in.',
  },
];

interface Report {
  checks: { global: number; atomic: number };
  errors: number;
  findings: Finding[];
}

async function electronegativity(input: string): Promise<Finding[]> {
  const out = join(input, '..', `${Date.now()}-findings.json`);
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', OFFLINE, RUNNER, input, out], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (c: Buffer) => (text += c.toString()));
    child.stderr.on('data', (c: Buffer) => (text += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`electronegativity did not finish within ${RUN_TIMEOUT_MS} ms: ${text}`));
    }, RUN_TIMEOUT_MS);
    child.on('error', reject);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve({ code: c, output: text });
    });
  });
  assert.equal(code, 0, `electronegativity failed: ${output}`);
  const report = JSON.parse(readFileSync(out, 'utf8')) as Report;
  assert.ok(report.checks.atomic > 20 && report.checks.global > 3, `electronegativity ran too few checks: ${JSON.stringify(report.checks)}`);
  assert.equal(report.errors, 0, `electronegativity could not parse some files: ${output}`);
  return report.findings;
}

const blocking = (f: Finding): boolean => f.severity === 'HIGH' || f.severity === 'MEDIUM';
const show = (f: Finding): string => `${f.severity} ${f.issue} ${f.file}:${f.location} ${f.sample.slice(0, 80)}`;

/** electronegativity's inline mark, in the one form used here: a trailing `// eng-disable CHECK`. */
const MARK = /[ \t]*\/\/[ \t]*eng-disable[ \t]+([A-Z_]+)[ \t]*$/;

interface Mark {
  issue: string;
  file: string;
  line: number;
}

/** Copies the app as shipped into `dir`; with `stripMarks`, without electronegativity's marks. Returns the marks. */
function copyApp(dir: string, stripMarks: boolean): Mark[] {
  const files: string[] = ['package.json', 'main/preload.ts'];
  for (const name of readdirSync(join(ROOT, 'main', 'electron'))) {
    if (name.endsWith('.ts') && !name.endsWith('.test.ts') && name !== 'build.ts') files.push(`main/electron/${name}`);
  }
  for (const entry of readdirSync(join(ROOT, 'renderer'), { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && !entry.name.endsWith('.test.ts')) files.push(relative(ROOT, join(entry.parentPath, entry.name)));
  }
  const marks: Mark[] = [];
  for (const file of files) {
    const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
    lines.forEach((text, index) => {
      if (!text.includes('eng-disable')) return;
      const m = MARK.exec(text);
      assert.ok(m, `${file}:${index + 1}: an eng-disable mark must be a trailing "// eng-disable CHECK" naming one check: ${text.trim()}`);
      marks.push({ issue: m[1]!, file, line: index + 1 });
      if (stripMarks) lines[index] = text.replace(MARK, '');
    });
    mkdirSync(join(dir, dirname(file)), { recursive: true });
    writeFileSync(join(dir, file), lines.join('\n'));
  }
  return marks;
}

const work = mkdtempSync(join(tmpdir(), 'latch-electronegativity-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('electronegativity reports an unsafe window (the check can fail)', { timeout: RUN_TIMEOUT_MS + 10_000 }, async () => {
  const bad = join(work, 'bad');
  mkdirSync(bad, { recursive: true });
  writeFileSync(join(bad, 'package.json'), readFileSync(join(ROOT, 'package.json')));
  writeFileSync(
    join(bad, 'main.js'),
    "const { BrowserWindow } = require('electron');\nconst w = new BrowserWindow({ webPreferences: { nodeIntegration: true, contextIsolation: false, sandbox: false } });\nw.loadURL('http://example.com/');\n",
  );
  const findings = (await electronegativity(bad)).filter(blocking);
  const issues = new Set(findings.map((f) => f.issue));
  assert.ok(issues.has('CONTEXT_ISOLATION_JS_CHECK') && issues.has('SANDBOX_JS_CHECK'), `expected HIGH findings, got: ${findings.map(show).join('; ')}`);
});

test('the desktop app has no HIGH or MEDIUM finding; its marks hide only the reviewed manual-review ones', { timeout: RUN_TIMEOUT_MS + 10_000 }, async () => {
  // The app as shipped: main process, preload, renderer and package.json (no tests, no tools).
  const shipped = join(work, 'app');
  const unmarked = join(work, 'app-unmarked');
  const marks = copyApp(shipped, false);
  copyApp(unmarked, true);
  const [asShipped, withoutMarks] = await Promise.all([electronegativity(shipped), electronegativity(unmarked)]);

  assert.deepEqual(asShipped.filter(blocking).map(show), [], 'electronegativity HIGH/MEDIUM findings');

  // Every mark names a reviewed check...
  for (const mark of marks) {
    assert.ok(
      REVIEWED.some((r) => r.issue === mark.issue && r.file === mark.file),
      `${mark.file}:${mark.line} marks ${mark.issue}, which has no review in REVIEWED`,
    );
  }
  // ...and without the marks, the findings they hid are exactly those: manual-review ones, on the
  // marked lines. A mark that hid a real finding, or hid nothing, fails here.
  const hidden = withoutMarks.filter((f) => blocking(f) && !asShipped.some((g) => g.issue === f.issue && g.file === f.file && g.location === f.location));
  assert.deepEqual(
    hidden.map((f) => `${f.issue} ${f.file}:${f.location.split(':')[0]} manualReview=${f.manualReview}`).sort(),
    marks.map((m) => `${m.issue} ${m.file}:${m.line} manualReview=true`).sort(),
    'findings hidden by eng-disable marks',
  );
  // The scan covered the app: each reviewed check is marked (and so was found) where REVIEWED says.
  for (const r of REVIEWED) assert.ok(marks.some((m) => m.issue === r.issue && m.file === r.file), `${r.issue} is reviewed but not marked in ${r.file}`);
});

// Runs electronegativity through its library API and writes its findings as JSON (its own CSV
// writer races the header against the rows, so that file can come out interleaved).
//   node --import ./offlineGot.js runElectronegativity.js INPUT_DIR OUTPUT.json
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const run = require('@doyensec/electronegativity');
const [input, output] = process.argv.slice(2);
if (!input || !output) {
  process.stderr.write('usage: runElectronegativity.js INPUT_DIR OUTPUT.json\n');
  process.exit(2);
}
const result = await run({ input, isRelative: true });
const findings = result.issues.map((i) => ({
  issue: i.id,
  severity: i.severity.name,
  confidence: i.confidence.name,
  file: i.file,
  location: `${i.location.line}:${i.location.column}`,
  sample: i.sample ?? '',
  description: i.description,
  manualReview: Boolean(i.manualReview),
}));
writeFileSync(output, JSON.stringify({ checks: { global: result.globalChecks, atomic: result.atomicChecks }, errors: result.errors.length, findings }, null, 2));

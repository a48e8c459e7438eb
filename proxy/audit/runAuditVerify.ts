/**
 * `latch-proxy audit verify [--json] FILE`: exit 0 when the chain is intact, 1 when it is broken
 * (the line and reason are printed) or the file cannot be read, 2 on bad usage.
 */
import { isLatchError } from '../../common/errors.ts';
import { verifyAuditFile } from './verifyAuditFile.ts';

export interface VerifyIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

export const AUDIT_VERIFY_USAGE = 'usage: latch-proxy audit verify [--json] FILE';

/** `argv` is what follows `audit verify`. Resolves to the exit code; never rejects. */
export async function runAuditVerify(argv: readonly string[], io: VerifyIo = process): Promise<number> {
  const json = argv.includes('--json');
  const rest = argv.filter((a) => a !== '--json');
  if (rest.includes('-h') || rest.includes('--help')) {
    io.stdout.write(`${AUDIT_VERIFY_USAGE}\n`);
    return 0;
  }
  const file = rest[0];
  if (rest.length !== 1 || file === undefined || file.startsWith('-')) {
    io.stderr.write(`${AUDIT_VERIFY_USAGE}\n`);
    return 2;
  }
  try {
    const result = await verifyAuditFile(file);
    if (json) {
      io.stdout.write(`${JSON.stringify({ file, ...result })}\n`);
    } else if (result.ok) {
      io.stdout.write(`${file}: ok, ${result.lines} line${result.lines === 1 ? '' : 's'}, hash chain intact\n`);
    } else {
      io.stderr.write(`latch-proxy: ${result.code}: ${file}: line ${result.line}: ${result.message}\n`);
    }
    return result.ok ? 0 : 1;
  } catch (err) {
    const code = isLatchError(err) ? err.code : ((err as NodeJS.ErrnoException).code ?? 'ERROR');
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(`latch-proxy: ${code}: cannot read ${file}: ${message}\n`);
    return 1;
  }
}

// Windows code signing for electron-builder (win.signtoolOptions.sign). Everything comes from
// the environment, so CI holds the secrets and the repository none:
//   Azure Trusted Signing: LATCH_AZURE_SIGN_ENDPOINT, LATCH_AZURE_SIGN_ACCOUNT,
//     LATCH_AZURE_SIGN_PROFILE (+ AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET for the
//     service principal), signed with signtool and the Trusted Signing dlib (LATCH_AZURE_DLIB).
//   A certificate file: WIN_CSC_LINK (path to .pfx) and WIN_CSC_KEY_PASSWORD.
//   A certificate in the machine store (hardware token, HSM): LATCH_SIGN_CERT_SHA1.
// With none of these set the file is left unsigned and a line says so: a developer build.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TIMESTAMP_URL = process.env.LATCH_SIGN_TIMESTAMP_URL || 'http://timestamp.acs.microsoft.com';

/** The signtool arguments for one file, or null when the environment names no signer. */
export function signtoolArgs(file, env, tmp) {
  const common = ['sign', '/fd', 'sha256', '/tr', env.LATCH_SIGN_TIMESTAMP_URL || TIMESTAMP_URL, '/td', 'sha256', '/v'];
  if (env.LATCH_AZURE_SIGN_ENDPOINT && env.LATCH_AZURE_SIGN_ACCOUNT && env.LATCH_AZURE_SIGN_PROFILE) {
    if (!env.LATCH_AZURE_DLIB) throw new Error('LATCH_AZURE_DLIB must name Azure.CodeSigning.Dlib.dll for Azure Trusted Signing');
    const metadata = join(tmp, 'metadata.json');
    writeFileSync(metadata, JSON.stringify({ Endpoint: env.LATCH_AZURE_SIGN_ENDPOINT, CodeSigningAccountName: env.LATCH_AZURE_SIGN_ACCOUNT, CertificateProfileName: env.LATCH_AZURE_SIGN_PROFILE }));
    return [...common, '/dlib', env.LATCH_AZURE_DLIB, '/dmdf', metadata, file];
  }
  if (env.WIN_CSC_LINK) return [...common, '/f', env.WIN_CSC_LINK, '/p', env.WIN_CSC_KEY_PASSWORD || '', file];
  if (env.LATCH_SIGN_CERT_SHA1) return [...common, '/sha1', env.LATCH_SIGN_CERT_SHA1, '/sm', file];
  return null;
}

/** electron-builder calls this for every file it signs (the app, helpers, the installer). */
export default async function sign(configuration) {
  const tmp = mkdtempSync(join(tmpdir(), 'latch-sign-'));
  try {
    const args = signtoolArgs(configuration.path, process.env, tmp);
    if (args === null) {
      process.stdout.write(`latch sign: no signer in the environment, ${configuration.path} left unsigned\n`);
      return;
    }
    execFileSync(process.env.LATCH_SIGNTOOL || 'signtool.exe', args, { stdio: 'inherit', timeout: 5 * 60_000 });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

import { generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';

/** Test helper: a fresh RSA key and a PEM CSR for it, built the way the client builds it (node-forge). */
export function makeKeyAndCsr(bits = 2048, cn = 'ignored'): { keyPem: string; csrPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  csr.setSubject([{ name: 'commonName', value: cn }]);
  csr.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return { keyPem, csrPem: forge.pki.certificationRequestToPem(csr) };
}

export function makeCsr(bits = 2048, cn = 'ignored'): string {
  return makeKeyAndCsr(bits, cn).csrPem;
}

import { generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';

/** Test helper: a PEM CSR for a fresh RSA key, built the way the client builds it (node-forge). */
export function makeCsr(bits = 2048, cn = 'ignored'): string {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  csr.setSubject([{ name: 'commonName', value: cn }]);
  csr.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()), forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

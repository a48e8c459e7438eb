// A self-signed RSA 2048 certificate for 127.0.0.1 / localhost, for tests that need a TLS server
// and no CA: made once per process (key generation takes ~100 ms) and shared.
import { generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';

export interface TlsMaterial {
  key: string;
  cert: string;
}

let material: TlsMaterial | undefined;

export function selfSignedCert(): TlsMaterial {
  if (material) return material;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 3600_000);
  const attrs = [{ name: 'commonName', value: 'localhost' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true },
    { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  material = { key: keyPem, cert: forge.pki.certificateToPem(cert) };
  return material;
}

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import forge from 'node-forge';
import { ErrorCode, LatchError } from '../common/errors.ts';
import { CertificateAuthority, createCa, fingerprintOf, parseCsr } from './CertificateAuthority.ts';
import { makeCsr } from './testCsr.ts';

const caPair = createCa('Test CA');
const ca = new CertificateAuthority(caPair);
const caX509 = new X509Certificate(caPair.certPem);

void describe('CertificateAuthority', () => {
  void it('creates a CA with a sha256 DER fingerprint', () => {
    assert.match(ca.fingerprint, /^sha256:[0-9a-f]{64}$/);
    assert.equal(ca.fingerprint, fingerprintOf(caPair.certPem));
    assert.equal(caX509.ca, true);
    const expected = `sha256:${caX509.fingerprint256.replace(/:/g, '').toLowerCase()}`;
    assert.equal(ca.fingerprint, expected);
  });

  void it('issues a server certificate for loopback plus the given hosts, signed by the CA', () => {
    const { certPem } = ca.issueServerCertificate(['proxy.example.com', '10.1.2.3']);
    const cert = new X509Certificate(certPem);
    assert.equal(cert.verify(caX509.publicKey), true);
    const san = cert.subjectAltName ?? '';
    for (const name of ['DNS:localhost', 'IP Address:127.0.0.1', 'IP Address:0:0:0:0:0:0:0:1', 'DNS:proxy.example.com', 'IP Address:10.1.2.3']) {
      assert.ok(san.includes(name), `${name} missing from ${san}`);
    }
    assert.ok(cert.checkHost('proxy.example.com'));
    // The authority key id must name the CA's subject key id, or TLS peers cannot find the issuer.
    const ski = (forge.pki.certificateFromPem(caPair.certPem).getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier: string }).subjectKeyIdentifier;
    const aki = forge.pki.certificateFromPem(certPem).getExtension('authorityKeyIdentifier') as { value: string };
    assert.ok(forge.util.bytesToHex(aki.value).endsWith(ski), 'authorityKeyIdentifier does not match the CA');
  });

  void it('a client certificate never outlives the given deadline and is for clientAuth only', () => {
    const now = new Date('2030-01-01T00:00:00.500Z');
    const notAfter = new Date(now.getTime() + 2_000);
    const issued = ca.issueClientCertificate(makeCsr(), 'alice', new Date(Math.floor(notAfter.getTime() / 1000) * 1000), now);
    const cert = new X509Certificate(issued.certPem);
    assert.equal(cert.verify(caX509.publicKey), true);
    assert.ok(Date.parse(cert.validTo) <= notAfter.getTime(), `${cert.validTo} is after ${notAfter.toISOString()}`);
    assert.ok(Date.parse(cert.validFrom) <= now.getTime() - 59_000);
    assert.equal(cert.subject, 'CN=alice');
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2']);
    assert.equal(cert.serialNumber, issued.serial);
    assert.equal(cert.ca, false);
  });

  void it('serials are random, positive and distinct', () => {
    const serials = new Set<string>();
    for (let i = 0; i < 3; i++) serials.add(ca.issueClientCertificate(makeCsr(), 'bob', new Date(Date.now() + 60_000)).serial);
    assert.equal(serials.size, 3);
    for (const s of serials) assert.match(s, /^[4-7][0-9A-F]{31}$/);
  });

  void it('refuses CSRs with small keys, bad signatures or garbage', () => {
    const refuse = (pem: string, pattern: RegExp): void => {
      assert.throws(() => parseCsr(pem), (err: unknown) => err instanceof LatchError && err.code === ErrorCode.BAD_REQUEST && pattern.test(err.message));
    };
    refuse(makeCsr(1024), /1024 bits/);
    refuse('not a csr', /not a PEM/);
    // Flip one bit of the signature: it no longer verifies.
    const csr = forge.pki.certificationRequestFromPem(makeCsr());
    const signature = csr.signature as string;
    csr.signature = String.fromCharCode(signature.charCodeAt(0) ^ 1) + signature.slice(1);
    refuse(forge.pki.certificationRequestToPem(csr), /does not verify/);
  });

  void it('refuses a CA key that does not match the certificate', () => {
    const other = createCa('Other');
    assert.throws(() => new CertificateAuthority({ certPem: caPair.certPem, keyPem: other.keyPem }), /does not belong/);
  });
});

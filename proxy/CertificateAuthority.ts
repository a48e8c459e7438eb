import { constants, createPrivateKey, privateEncrypt, randomBytes, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
import { ErrorCode, LatchError } from '../common/errors.ts';

/**
 * The proxy's private CA (node-forge): it signs the proxy's server certificate and one client
 * certificate per session. Clients pin the CA by the SHA-256 of its DER encoding.
 */

export interface PemPair {
  certPem: string;
  keyPem: string;
}

const RSA_BITS = 2048;
const CA_YEARS = 10;
const SERVER_DAYS = 825;
/** Clock skew allowance for client certificates: notBefore is backdated this much. */
export const CLIENT_CERT_BACKDATE_MS = 60_000;
const MIN_CSR_BITS = 2048;
/** DER prefix of a DigestInfo for SHA-256 (RFC 8017 §9.2 note 1). */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');
const MAX_CSR_BITS = 8192;

/** 16 random bytes as positive DER INTEGER hex, never with a leading zero byte. */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes.toString('hex').toUpperCase();
}

/** `sha256:` + lowercase hex of the certificate's DER encoding. */
export function fingerprintOf(certPem: string): string {
  const hex = new X509Certificate(certPem).fingerprint256.replace(/:/g, '').toLowerCase();
  return `sha256:${hex}`;
}

function generateKeyPair(): forge.pki.rsa.KeyPair {
  // forge delegates to Node's native generateKeyPairSync when present (about 0.1-0.3 s).
  return forge.pki.rsa.generateKeyPair({ bits: RSA_BITS, e: 0x10001 });
}

export function createCa(commonName = `Latch proxy CA ${randomBytes(4).toString('hex')}`, now = new Date()): PemPair {
  const keys = generateKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(now.getTime() - CLIENT_CERT_BACKDATE_MS);
  cert.validity.notAfter = new Date(now.getTime());
  cert.validity.notAfter.setUTCFullYear(now.getUTCFullYear() + CA_YEARS);
  const attrs = [
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: 'Latch' },
  ];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(keys.privateKey) };
}

export interface ClientCertificate {
  certPem: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
}

export class CertificateAuthority {
  readonly certPem: string;
  readonly fingerprint: string;
  private readonly cert: forge.pki.Certificate;
  private readonly key: forge.pki.rsa.PrivateKey;
  private readonly nodeKey: KeyObject;

  constructor(pair: PemPair) {
    try {
      this.cert = forge.pki.certificateFromPem(pair.certPem);
      this.key = forge.pki.privateKeyFromPem(pair.keyPem);
    } catch (err) {
      throw new LatchError(ErrorCode.CONFIG, `cannot read the CA certificate or key: ${(err as Error).message}`, { cause: err });
    }
    const publicKey = this.cert.publicKey as forge.pki.rsa.PublicKey;
    if (publicKey.n.compareTo(this.key.n) !== 0) throw new LatchError(ErrorCode.CONFIG, 'the CA key does not belong to the CA certificate');
    this.nodeKey = createPrivateKey(pair.keyPem);
    this.certPem = pair.certPem;
    this.fingerprint = fingerprintOf(pair.certPem);
  }

  /**
   * forge's RSA signing is pure JavaScript (~30-50 ms per signature, blocking every tunnel);
   * forge calls `key.sign(md)`, so hand it a key whose private operation is Node's native one.
   * RSASSA-PKCS1-v1_5 = private-key "encryption" of the DigestInfo with type-1 padding.
   */
  private readonly nativeSigner = {
    sign: (md: forge.md.MessageDigest): string => {
      const digestInfo = Buffer.concat([SHA256_DIGEST_INFO, Buffer.from(md.digest().getBytes(), 'binary')]);
      return privateEncrypt({ key: this.nodeKey, padding: constants.RSA_PKCS1_PADDING }, digestInfo).toString('binary');
    },
  };

  private signed(cert: forge.pki.Certificate, extensions: object[]): string {
    cert.setIssuer(this.cert.subject.attributes);
    cert.setExtensions([...extensions, { name: 'subjectKeyIdentifier' }, { name: 'authorityKeyIdentifier', keyIdentifier: this.cert.generateSubjectKeyIdentifier().getBytes() }]);
    cert.sign(this.nativeSigner as unknown as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
    return forge.pki.certificateToPem(cert);
  }

  /** Server certificate for the proxy: SANs 127.0.0.1, ::1, localhost and each extra host. */
  issueServerCertificate(hosts: readonly string[], now = new Date()): PemPair {
    const keys = generateKeyPair();
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = randomSerial();
    cert.validity.notBefore = new Date(now.getTime() - CLIENT_CERT_BACKDATE_MS);
    cert.validity.notAfter = new Date(now.getTime() + SERVER_DAYS * 86_400_000);
    const names = [...new Set(['127.0.0.1', '::1', 'localhost', ...hosts])];
    cert.setSubject([{ name: 'commonName', value: hosts[0] ?? 'localhost' }]);
    const altNames = names.map((name) => (isIP(name) ? { type: 7, ip: name } : { type: 2, value: name }));
    const certPem = this.signed(cert, [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ]);
    return { certPem, keyPem: forge.pki.privateKeyToPem(keys.privateKey) };
  }

  /**
   * Signs a client certificate for `user` from a CSR. The lifetime ends at `notAfter` (the
   * session's absolute deadline, truncated to whole seconds by X.509, so never later).
   */
  issueClientCertificate(csrPem: string, user: string, notAfter: Date, now = new Date()): ClientCertificate {
    const csr = parseCsr(csrPem);
    const cert = forge.pki.createCertificate();
    cert.publicKey = csr.publicKey as forge.pki.rsa.PublicKey;
    const serial = randomSerial();
    cert.serialNumber = serial;
    const notBefore = new Date(now.getTime() - CLIENT_CERT_BACKDATE_MS);
    cert.validity.notBefore = notBefore;
    cert.validity.notAfter = new Date(notAfter.getTime());
    cert.setSubject([{ name: 'commonName', value: user }]);
    const certPem = this.signed(cert, [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', clientAuth: true },
    ]);
    return { certPem, serial, notBefore, notAfter: cert.validity.notAfter };
  }
}

/** A CSR must parse, carry a valid self-signature, and hold an RSA key of 2048-8192 bits. */
export function parseCsr(csrPem: string): forge.pki.CertificateSigningRequest {
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = forge.pki.certificationRequestFromPem(csrPem);
  } catch (err) {
    throw new LatchError(ErrorCode.BAD_REQUEST, `the CSR is not a PEM PKCS#10 request with an RSA key: ${(err as Error).message}`, { cause: err });
  }
  let verified = false;
  try {
    verified = csr.verify();
  } catch {
    verified = false;
  }
  if (!verified) throw new LatchError(ErrorCode.BAD_REQUEST, 'the CSR signature does not verify');
  const key = csr.publicKey as forge.pki.rsa.PublicKey | null;
  const bits = key?.n.bitLength() ?? 0;
  if (bits < MIN_CSR_BITS || bits > MAX_CSR_BITS) {
    throw new LatchError(ErrorCode.BAD_REQUEST, `the CSR key has ${bits} bits; RSA keys of ${MIN_CSR_BITS} to ${MAX_CSR_BITS} bits are accepted`);
  }
  return csr;
}

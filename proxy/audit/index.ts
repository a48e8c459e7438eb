/** The audit trail's public surface for the proxy and its CLI. */
export { AuditLog, defaultAuditLogOptions, validateAuditLogOptions } from './AuditLog.ts';
export type { AuditLogOptions, AppendResult, AuditLogStats, FsyncPolicy } from './AuditLog.ts';
export { toOcsfRecord, sessionHash, OCSF_VERSION, AUDIT_EVENT_TYPES } from './AuditEvent.ts';
export type { AuditEvent, AuditEventType, OcsfRecord, Endpoint } from './AuditEvent.ts';
export { verifyAuditFile, readAuditRecords } from './verifyAuditFile.ts';
export type { AuditVerifyResult } from './verifyAuditFile.ts';
export { runAuditVerify, AUDIT_VERIFY_USAGE } from './runAuditVerify.ts';
export { loadOrCreateAuditSalt } from './AuditSalt.ts';
export { WebhookSink, defaultWebhookSinkOptions } from './WebhookSink.ts';
export type { WebhookSinkOptions, WebhookSinkStats } from './WebhookSink.ts';
export { StreamSink } from './StreamSink.ts';
export type { AuditSink, AuditSinkStats } from './AuditSink.ts';
export { GENESIS_HASH } from './AuditChain.ts';

import { formatDuration, parseDuration } from '../../common/durations.ts';
import { ErrorCode, LatchError, isLatchError } from '../../common/errors.ts';
import type { ActivityMode, EffectivePolicy, LockMode } from '../../common/session.ts';

/**
 * Session policy per resource group, and how several combine. A session that has opened
 * nothing is bound by the default policy; each resource group it opens can only tighten what
 * is in effect (the strictest value of every key wins, as with Teleport's roles), so opening a
 * staging resource after a production one never loosens production's limits.
 */

export interface Policy {
  idleTimeoutMs: number;
  maxDurationMs: number;
  warnBeforeMs: number;
  maxRenewals: number;
  activity: ActivityMode;
  onLock: LockMode;
}

/** The built-in default: PCI DSS 8.2.8's 15 minutes idle, a working day overall. */
export const DEFAULT_POLICY: Readonly<Policy> = Object.freeze({
  idleTimeoutMs: 15 * 60_000,
  maxDurationMs: 8 * 3_600_000,
  warnBeforeMs: 2 * 60_000,
  maxRenewals: 10,
  activity: 'input',
  onLock: 'idle',
});

export const POLICY_KEYS = ['idleTimeout', 'maxDuration', 'warnBefore', 'maxRenewals', 'activity', 'onLock'] as const;
export type PolicyKey = (typeof POLICY_KEYS)[number];

/** The group name whose settings, when present, replace the built-in default for every group. */
export const DEFAULT_POLICY_GROUP = 'default';

const MIN_DURATION_MS = 1_000;
const MAX_RENEWALS = 1_000_000;

/**
 * A policy mistake, LATCH_ERR_CONFIG. `path` is the key path inside the YAML document (e.g.
 * ['groups', 'production', 'idleTimeout']) so the config loader can point at the line;
 * `detail` is the message without the path, for a loader that prints the path itself.
 */
export class PolicyError extends LatchError {
  readonly path: string[];
  readonly detail: string;

  constructor(path: readonly string[], detail: string) {
    super(ErrorCode.CONFIG, `${path.join('.') || '(policy)'}: ${detail}`);
    this.name = 'PolicyError';
    this.path = [...path];
    this.detail = detail;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function durationAt(value: unknown, path: readonly string[]): number {
  if (typeof value !== 'string') throw new PolicyError(path, `must be a duration like 90s, 15m or 8h (got ${JSON.stringify(value)})`);
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (err) {
    if (isLatchError(err)) throw new PolicyError(path, err.message);
    throw err;
  }
  if (ms < MIN_DURATION_MS) throw new PolicyError(path, `must be at least ${formatDuration(MIN_DURATION_MS)} (got ${value})`);
  return ms;
}

/**
 * Parses one group's policy from the plain object the YAML loader produced (`null` or absent
 * means "all inherited"). Every key is optional and overrides `base` key by key. Throws
 * PolicyError naming the first bad key.
 */
export function parsePolicy(raw: unknown, path: readonly string[], base: Readonly<Policy> = DEFAULT_POLICY): Policy {
  const source = raw ?? {};
  if (!isPlainObject(source)) throw new PolicyError(path, 'must be a mapping of policy settings');
  for (const key of Object.keys(source)) {
    if (!(POLICY_KEYS as readonly string[]).includes(key)) {
      throw new PolicyError([...path, key], `unknown key (expected one of: ${POLICY_KEYS.join(', ')})`);
    }
  }
  const has = (key: PolicyKey): boolean => source[key] !== undefined;
  const policy: Policy = { ...base };
  if (has('idleTimeout')) policy.idleTimeoutMs = durationAt(source.idleTimeout, [...path, 'idleTimeout']);
  if (has('maxDuration')) policy.maxDurationMs = durationAt(source.maxDuration, [...path, 'maxDuration']);
  if (has('warnBefore')) policy.warnBeforeMs = durationAt(source.warnBefore, [...path, 'warnBefore']);
  if (has('maxRenewals')) {
    const n = source.maxRenewals;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n > MAX_RENEWALS) {
      throw new PolicyError([...path, 'maxRenewals'], `must be a whole number from 0 to ${MAX_RENEWALS} (got ${JSON.stringify(n)})`);
    }
    policy.maxRenewals = n;
  }
  if (has('activity')) {
    const v = source.activity;
    if (v !== 'input' && v !== 'input+traffic') throw new PolicyError([...path, 'activity'], `must be "input" or "input+traffic" (got ${JSON.stringify(v)})`);
    policy.activity = v;
  }
  if (has('onLock')) {
    const v = source.onLock;
    if (v !== 'idle' && v !== 'end') throw new PolicyError([...path, 'onLock'], `must be "idle" or "end" (got ${JSON.stringify(v)})`);
    policy.onLock = v;
  }

  // Cross-key rules. Blame a key this group set, so the line shown is one the admin wrote.
  const inherited = (key: PolicyKey): string => (has(key) ? '' : ' (inherited)');
  if (policy.warnBeforeMs >= policy.idleTimeoutMs) {
    const blame: PolicyKey = has('warnBefore') || !has('idleTimeout') ? 'warnBefore' : 'idleTimeout';
    throw new PolicyError(
      [...path, blame],
      `warnBefore (${formatDuration(policy.warnBeforeMs)}${inherited('warnBefore')}) must be shorter than idleTimeout (${formatDuration(policy.idleTimeoutMs)}${inherited('idleTimeout')})`,
    );
  }
  if (policy.idleTimeoutMs > policy.maxDurationMs) {
    const blame: PolicyKey = has('idleTimeout') || !has('maxDuration') ? 'idleTimeout' : 'maxDuration';
    throw new PolicyError(
      [...path, blame],
      `idleTimeout (${formatDuration(policy.idleTimeoutMs)}${inherited('idleTimeout')}) must not be longer than maxDuration (${formatDuration(policy.maxDurationMs)}${inherited('maxDuration')})`,
    );
  }
  return policy;
}

export interface PolicySet {
  /** What binds a session that has opened nothing, and what every group inherits from. */
  defaultPolicy: Policy;
  groups: Map<string, Policy>;
}

/**
 * Parses the config's `groups` mapping (group name → raw policy). A group named `default`
 * replaces the built-in default, and every other group overrides it key by key.
 */
export function parsePolicies(groups: Readonly<Record<string, unknown>>, base: Readonly<Policy> = DEFAULT_POLICY, path: readonly string[] = ['groups']): PolicySet {
  const defaultPolicy = parsePolicy(groups[DEFAULT_POLICY_GROUP], [...path, DEFAULT_POLICY_GROUP], base);
  const out = new Map<string, Policy>([[DEFAULT_POLICY_GROUP, defaultPolicy]]);
  for (const [name, raw] of Object.entries(groups)) {
    if (name === DEFAULT_POLICY_GROUP) continue;
    out.set(name, parsePolicy(raw, [...path, name], defaultPolicy));
  }
  return { defaultPolicy, groups: out };
}

/** A policy as it goes on the wire, naming the groups it came from. */
export function effectivePolicy(policy: Readonly<Policy>, groups: readonly string[] = []): EffectivePolicy {
  return {
    idleTimeoutMs: policy.idleTimeoutMs,
    maxDurationMs: policy.maxDurationMs,
    warnBeforeMs: policy.warnBeforeMs,
    maxRenewals: policy.maxRenewals,
    activity: policy.activity,
    onLock: policy.onLock,
    groups: [...new Set(groups)].sort(),
  };
}

/**
 * Combines policies, strictest value of each key: shortest idle timeout and duration, fewest
 * renewals, traffic not counted if any policy says so, ending on lock if any says so. The
 * warning lead time is the longest that still fits before the idle timeout in effect (so the
 * warning never comes at or before the last input). Groups are the union.
 */
export function strictest(policies: ReadonlyArray<Readonly<Policy> & { readonly groups?: readonly string[] }>): EffectivePolicy {
  const first = policies[0];
  if (!first) throw new LatchError(ErrorCode.INTERNAL, 'strictest() needs at least one policy');
  let idle = first.idleTimeoutMs;
  let max = first.maxDurationMs;
  let renewals = first.maxRenewals;
  let activity: ActivityMode = first.activity;
  let onLock: LockMode = first.onLock;
  const groups: string[] = [];
  for (const p of policies) {
    idle = Math.min(idle, p.idleTimeoutMs);
    max = Math.min(max, p.maxDurationMs);
    renewals = Math.min(renewals, p.maxRenewals);
    if (p.activity === 'input') activity = 'input';
    if (p.onLock === 'end') onLock = 'end';
    if (p.groups) groups.push(...p.groups);
  }
  idle = Math.min(idle, max);
  let warn = -1;
  for (const p of policies) {
    if (p.warnBeforeMs < idle && p.warnBeforeMs > warn) warn = p.warnBeforeMs;
  }
  // Only reachable with policies that skipped parsePolicy's validation.
  if (warn < 0) warn = Math.floor(idle / 2);
  return effectivePolicy({ idleTimeoutMs: idle, maxDurationMs: max, warnBeforeMs: warn, maxRenewals: renewals, activity, onLock }, groups);
}

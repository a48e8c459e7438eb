import { normalizeFingerprint, normalizeProxyUrl } from '../../core/Enrollment.ts';

/** Update channels electron-updater knows (latest.yml, beta.yml, alpha.yml). */
export const UPDATE_CHANNELS = ['latest', 'beta', 'alpha'] as const;
export type UpdateChannel = (typeof UPDATE_CHANNELS)[number];

/**
 * What an administrator can preset for the desktop app. Every key is optional: only the keys
 * present (and valid) are managed; everything else stays the user's.
 */
export interface ManagedPolicy {
  /** The proxy the app signs in to (`https://host[:port]`). */
  proxyUrl?: string;
  /** The pinned CA fingerprint (`sha256:` + 64 hex). */
  caFingerprint?: string;
  /** Sign-in only to proxyUrl / caFingerprint; any other proxy is refused. */
  lockProxy?: boolean;
  /** Bounds (ms) the user's warning lead time must stay within, on top of the session policy's. */
  warnLeadMinMs?: number;
  warnLeadMaxMs?: number;
  startAtLogin?: boolean;
  autoUpdate?: boolean;
  updateChannel?: UpdateChannel;
}

export type PolicyKey = 'proxyUrl' | 'caFingerprint' | 'lockProxy' | 'warnLeadMin' | 'warnLeadMax' | 'startAtLogin' | 'autoUpdate' | 'updateChannel';
export const POLICY_KEYS: readonly PolicyKey[] = ['proxyUrl', 'caFingerprint', 'lockProxy', 'warnLeadMin', 'warnLeadMax', 'startAtLogin', 'autoUpdate', 'updateChannel'];

/** One thing wrong with a policy source; the key (if any) was ignored, the rest still applies. */
export interface PolicyProblem {
  source: string;
  key?: string;
  message: string;
}

export interface PolicyResult {
  policy: ManagedPolicy;
  problems: PolicyProblem[];
}

/** Warning lead bounds are given in seconds (what an administrator types), at most a day. */
const MAX_LEAD_S = 86_400;

/**
 * Booleans arrive as plist <true/>, JSON true, registry DWORD 0/1 or the strings "true"/"false"
 * (a REG_SZ typed by hand): all mean the same.
 */
function asBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 0 || value === 1) return value === 1;
  if (value === 'true' || value === 'false') return value === 'true';
  return undefined;
}

function asSeconds(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= MAX_LEAD_S ? n : undefined;
}

/**
 * Checks a raw policy (from plist, registry or JSON) key by key. An invalid or unknown key is
 * reported and ignored; it never takes the valid keys down with it.
 */
export function validatePolicy(raw: unknown, source: string): PolicyResult {
  const policy: ManagedPolicy = {};
  const problems: PolicyProblem[] = [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { policy, problems: [{ source, message: 'the policy is not a set of keys and values' }] };
  }
  const r = raw as Record<string, unknown>;
  const report = (key: string, message: string): void => {
    problems.push({ source, key, message });
  };
  for (const key of Object.keys(r)) {
    // Plists from MDM carry payload bookkeeping keys; those are not ours to judge.
    if (key.startsWith('Payload')) continue;
    if (!(POLICY_KEYS as readonly string[]).includes(key)) report(key, `unknown key "${key}" ignored`);
  }
  const value = (key: PolicyKey): unknown => r[key];

  if (value('proxyUrl') !== undefined) {
    try {
      if (typeof value('proxyUrl') !== 'string') throw new Error('not a string');
      policy.proxyUrl = normalizeProxyUrl(value('proxyUrl') as string);
    } catch {
      report('proxyUrl', 'proxyUrl must be https://host[:port]; ignored');
    }
  }
  if (value('caFingerprint') !== undefined) {
    try {
      if (typeof value('caFingerprint') !== 'string') throw new Error('not a string');
      policy.caFingerprint = normalizeFingerprint(value('caFingerprint') as string);
    } catch {
      report('caFingerprint', 'caFingerprint must be sha256: followed by 64 hex digits; ignored');
    }
  }
  for (const key of ['lockProxy', 'startAtLogin', 'autoUpdate'] as const) {
    if (value(key) === undefined) continue;
    const b = asBoolean(value(key));
    if (b === undefined) report(key, `${key} must be true or false; ignored`);
    else policy[key] = b;
  }
  if (policy.lockProxy === true && policy.proxyUrl === undefined) {
    report('lockProxy', 'lockProxy needs a valid proxyUrl; ignored');
    delete policy.lockProxy;
  }
  const min = value('warnLeadMin') === undefined ? undefined : asSeconds(value('warnLeadMin'));
  const max = value('warnLeadMax') === undefined ? undefined : asSeconds(value('warnLeadMax'));
  if (value('warnLeadMin') !== undefined && min === undefined) report('warnLeadMin', `warnLeadMin must be whole seconds from 0 to ${MAX_LEAD_S}; ignored`);
  if (value('warnLeadMax') !== undefined && max === undefined) report('warnLeadMax', `warnLeadMax must be whole seconds from 0 to ${MAX_LEAD_S}; ignored`);
  if (min !== undefined && max !== undefined && min > max) {
    report('warnLeadMin', `warnLeadMin (${min} s) is above warnLeadMax (${max} s); both ignored`);
  } else {
    if (min !== undefined) policy.warnLeadMinMs = min * 1000;
    if (max !== undefined) policy.warnLeadMaxMs = max * 1000;
  }
  const channel = value('updateChannel');
  if (channel !== undefined) {
    if (typeof channel === 'string' && (UPDATE_CHANNELS as readonly string[]).includes(channel)) policy.updateChannel = channel as UpdateChannel;
    else report('updateChannel', `updateChannel must be one of ${UPDATE_CHANNELS.join(', ')}; ignored`);
  }
  return { policy, problems };
}

/**
 * Layers policies: each key from the first source that sets it (Windows: HKLM before HKCU).
 */
export function mergePolicies(results: readonly PolicyResult[]): PolicyResult {
  const policy: ManagedPolicy = {};
  for (const result of [...results].reverse()) Object.assign(policy, result.policy);
  return { policy, problems: results.flatMap((r) => r.problems) };
}

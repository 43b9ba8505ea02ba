// Password hashing with node:crypto scrypt (RFC 7914). The stored string carries its own
// parameters and salt, `scrypt$N$r$p$salt$hash` (base64url), so the cost can be raised later
// without invalidating existing hashes.
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const KEY_LENGTH = 32;
/** N = 2^15, r = 8: 32 MiB and tens of milliseconds per check on a server core. */
const DEFAULT_COST = { N: 2 ** 15, r: 8, p: 1 } as const;
/** Longer inputs are refused before hashing: a megabyte "password" is an attack, not a secret. */
export const MAX_PASSWORD_LENGTH = 1024;

function scrypt(password: string, salt: Buffer, cost: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { ...cost, maxmem: 128 * cost.N * cost.r * 2 };
  return new Promise((resolve, reject) => {
    scryptCallback(password.normalize('NFC'), salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(password: string): Promise<string> {
  if (password.length === 0 || password.length > MAX_PASSWORD_LENGTH) {
    throw new RangeError(`password must be 1 to ${MAX_PASSWORD_LENGTH} characters`);
  }
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, DEFAULT_COST);
  const { N, r, p } = DEFAULT_COST;
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

function parse(stored: string): { cost: { N: number; r: number; p: number }; salt: Buffer; hash: Buffer } | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![N, r, p].every((n) => Number.isSafeInteger(n) && n > 0) || N > 2 ** 20 || r > 32 || p > 16) return undefined;
  return { cost: { N, r, p }, salt: Buffer.from(parts[4]!, 'base64url'), hash: Buffer.from(parts[5]!, 'base64url') };
}

/** A hash of a random password: checked against when the username is unknown, so both take as long. */
let decoy: Promise<string> | undefined;

/** True when `password` matches `stored`; `stored` undefined still costs one scrypt. */
export async function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  const target = stored ?? await (decoy ??= hashPassword(randomBytes(16).toString('base64url')));
  const parsed = parse(target);
  if (!parsed || password.length === 0 || password.length > MAX_PASSWORD_LENGTH) return false;
  const candidate = await scrypt(password, parsed.salt, parsed.cost);
  return stored !== undefined && candidate.length === parsed.hash.length && timingSafeEqual(candidate, parsed.hash);
}

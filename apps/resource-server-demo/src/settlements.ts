// The settlement service's domain: validate a settlement request and keep settlements in
// memory. A real service would write to its ledger here.
import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';

export interface Settlement {
  id: string;
  amount: string;
  currency: string;
  counterparty: string;
  reference: string;
  created_at: string;
  created_by: string;
}

export class SettlementInputError extends Error {}

const FIELDS = new Set(['amount', 'currency', 'counterparty', 'reference']);

function text(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value.trim() === '' || value.length > 140) {
    throw new SettlementInputError(`${field}: must be a non-empty string of at most 140 characters`);
  }
  return value;
}

export function parseSettlement(body: unknown): Omit<Settlement, 'id' | 'created_at' | 'created_by'> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new SettlementInputError('body: must be a JSON object');
  const input = body as Record<string, unknown>;
  const unknown = Object.keys(input).find((k) => !FIELDS.has(k));
  if (unknown) throw new SettlementInputError(`${unknown}: unknown field`);
  const raw = input.amount;
  const amount = typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : raw;
  if (typeof amount !== 'string' || !/^\d{1,15}(\.\d{1,4})?$/.test(amount) || Number(amount) <= 0) {
    throw new SettlementInputError('amount: must be a positive decimal with at most 4 decimal places');
  }
  const currency = text(input, 'currency');
  if (!/^[A-Z]{3}$/.test(currency)) throw new SettlementInputError('currency: must be an ISO 4217 code such as EUR');
  return { amount, currency, counterparty: text(input, 'counterparty'), reference: text(input, 'reference') };
}

export function createSettlementStore(limit = 10_000) {
  const settlements = new LRUCache<string, Settlement>({ max: limit }); // a demo: the least recently used go first
  return {
    create(input: ReturnType<typeof parseSettlement>, createdBy: string): Settlement {
      const settlement = { id: randomUUID(), ...input, created_at: new Date().toISOString(), created_by: createdBy };
      settlements.set(settlement.id, settlement);
      return settlement;
    },
    get(id: string): Settlement | undefined {
      return settlements.get(id);
    },
  };
}

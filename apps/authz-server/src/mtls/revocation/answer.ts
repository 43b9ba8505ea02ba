// The one shape every revocation source answers in, how a chain's answers combine, and how an
// answer reads in an OAuth error_description.
import { CRLReasons } from '@peculiar/asn1-x509';

export type RevocationMode = 'soft' | 'hard' | 'off';
/** REVOCATION_CHECK values: soft allows an unknown status, hard refuses it, off never asks. */
export const REVOCATION_MODES: readonly RevocationMode[] = ['soft', 'hard', 'off'];
export type RevocationSource = 'ocsp' | 'crl' | 'crl-file' | 'none';

export interface RevocationAnswer {
  readonly status: 'good' | 'revoked' | 'unknown';
  /** where the answer came from; 'none' when no source was configured or named */
  readonly source: RevocationSource;
  /** the certificate the answer is about (leaf or intermediate): serial as X509Certificate.serialNumber */
  readonly serial: string;
  /** its subject, RFC 4514 order */
  readonly subject: string;
  /** RFC 5280 §5.3.1 reason name and code when revoked */
  readonly reason?: string;
  readonly reasonCode?: number;
  readonly revokedAt?: Date;
  /** ms epoch until which this answer may be relied on (nextUpdate, bounded; 'unknown': a short retry) */
  readonly validUntil: number;
  /** what went wrong, for 'unknown'; which source was missing, for source 'none' */
  readonly detail?: string;
}

/** RFC 5280 §5.3.1 names; 7 is unused. */
export function reasonName(code: number | undefined): string {
  if (code === undefined) return 'unspecified';
  const name = (CRLReasons as unknown as Record<number, string | undefined>)[code];
  return typeof name === 'string' ? name : `reason ${code}`;
}

const RANK = { good: 0, unknown: 1, revoked: 2 } as const;

/** revoked > unknown > good; the answer is about the worst certificate, valid until the earliest. */
export function worstOf(answers: readonly RevocationAnswer[]): RevocationAnswer {
  let worst = answers[0];
  for (const answer of answers) if (RANK[answer.status] > RANK[worst.status]) worst = answer;
  return { ...worst, validUntil: Math.min(...answers.map((a) => a.validUntil)) };
}

const SOURCE_TEXT: Record<RevocationSource, string> = {
  ocsp: 'its OCSP responder',
  crl: 'its CRL',
  'crl-file': 'CLIENT_CRL_FILE',
  none: 'no source',
};

/** error_description text for a refusal (invalid_client): names the certificate, the source and the reason. */
export function describeRevocation(answer: RevocationAnswer): string {
  const which = `certificate serial ${answer.serial} (${answer.subject})`;
  if (answer.status === 'revoked') {
    const since = answer.revokedAt ? ` since ${answer.revokedAt.toISOString()}` : '';
    return `${which} is revoked${since}: ${answer.reason ?? 'unspecified'} (reason code ${answer.reasonCode ?? 0}), according to ${SOURCE_TEXT[answer.source]}`;
  }
  if (answer.status === 'unknown') return `revocation status unknown for ${which}: ${answer.detail ?? 'no source answered'}`;
  return `${which} is not revoked`;
}

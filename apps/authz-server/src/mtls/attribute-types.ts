// Attribute types that may appear in a subject DN, by short name and OID. RFC 4514 §3 requires
// parsers to know CN, L, ST, O, OU, C, STREET, DC and UID; the rest are the RFC 4519 / PKCS #9
// types seen in client certificates. Names are matched case-insensitively (RFC 4512 §1.4).

interface AttributeType {
  /** the name RFC 4514 §2.3 output uses (OpenSSL's -nameopt RFC2253 spelling) */
  readonly name: string;
  readonly oid: string;
  readonly aliases?: readonly string[];
  /** DER string type we issue with (RFC 5280 §4.1.2.6 / Appendix A); UTF8String when absent */
  readonly encoding?: 'printable' | 'ia5';
}

const TYPES: readonly AttributeType[] = [
  { name: 'CN', oid: '2.5.4.3', aliases: ['commonName'] },
  { name: 'SN', oid: '2.5.4.4', aliases: ['surname'] },
  { name: 'serialNumber', oid: '2.5.4.5', encoding: 'printable' },
  { name: 'C', oid: '2.5.4.6', aliases: ['countryName'], encoding: 'printable' },
  { name: 'L', oid: '2.5.4.7', aliases: ['localityName'] },
  { name: 'ST', oid: '2.5.4.8', aliases: ['stateOrProvinceName', 'S'] },
  { name: 'STREET', oid: '2.5.4.9', aliases: ['streetAddress'] },
  { name: 'O', oid: '2.5.4.10', aliases: ['organizationName'] },
  { name: 'OU', oid: '2.5.4.11', aliases: ['organizationalUnitName'] },
  { name: 'title', oid: '2.5.4.12' },
  { name: 'businessCategory', oid: '2.5.4.15' },
  { name: 'postalCode', oid: '2.5.4.17' },
  { name: 'GN', oid: '2.5.4.42', aliases: ['givenName'] },
  { name: 'initials', oid: '2.5.4.43' },
  { name: 'generationQualifier', oid: '2.5.4.44' },
  { name: 'dnQualifier', oid: '2.5.4.46', encoding: 'printable' },
  { name: 'pseudonym', oid: '2.5.4.65' },
  { name: 'organizationIdentifier', oid: '2.5.4.97' },
  { name: 'DC', oid: '0.9.2342.19200300.100.1.25', aliases: ['domainComponent'], encoding: 'ia5' },
  { name: 'UID', oid: '0.9.2342.19200300.100.1.1', aliases: ['userId'] },
  { name: 'emailAddress', oid: '1.2.840.113549.1.9.1', aliases: ['E', 'email'], encoding: 'ia5' },
];

const byName = new Map<string, AttributeType>();
const byOid = new Map<string, AttributeType>();
for (const type of TYPES) {
  byOid.set(type.oid, type);
  for (const name of [type.name, ...(type.aliases ?? [])]) byName.set(name.toLowerCase(), type);
}

/** OID for a descriptor or dotted OID; undefined when the descriptor is unknown. */
export function attributeOid(type: string): string | undefined {
  if (/^\d+(\.\d+)+$/.test(type)) return type;
  return byName.get(type.toLowerCase())?.oid;
}

/** RFC 4514 §2.3: the short name when we know one, else the dotted OID. */
export function attributeName(oid: string): string {
  return byOid.get(oid)?.name ?? oid;
}

export function attributeEncoding(oid: string): 'printable' | 'ia5' | 'utf8' {
  return byOid.get(oid)?.encoding ?? 'utf8';
}

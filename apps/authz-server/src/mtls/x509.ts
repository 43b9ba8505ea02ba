// The one place @peculiar/x509 is loaded. It resolves its crypto through tsyringe, which needs
// a Reflect metadata polyfill installed before the library module evaluates; ES module imports
// evaluate in order, so this import must stay first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

// Node's WebCrypto implements everything we issue with (ECDSA P-256, RSASSA-PKCS1-v1_5, Ed25519).
x509.cryptoProvider.set(globalThis.crypto as ReturnType<typeof x509.cryptoProvider.get>);

export { x509 };

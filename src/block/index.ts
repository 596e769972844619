export * from './interface.ts'
export { sha256, sha256Sync } from './hash.ts'
export { assertIpld } from './validate.ts'
export { encodeValue, encodeChecked, encodeRaw, verify, verifySync, decodeBlock, decodeTrusted, linksOf, linksInValue, equalBytes, compareBytes } from './codec.ts'

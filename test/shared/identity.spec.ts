import { describe, expect, test } from 'vitest'
import * as dagCbor from '@ipld/dag-cbor'
import { sha512 } from '@noble/hashes/sha2.js'
import { base58btc } from 'multiformats/bases/base58'
import { isCairnError } from '../../src/errors/cairn-error.ts'
import { createIdentity, exportIdentity, importIdentity } from '../../src/identity/create.ts'
import { didKeyOf, isDidKey, publicKeyOf } from '../../src/identity/did-key.ts'
import { type Backend, ed25519Backend, ed25519Backends } from '../../src/identity/ed25519.ts'
import type { Identity, Signer } from '../../src/identity/interface.ts'
import { identityOf } from '../../src/identity/key-identity.ts'
import { VERIFY_KEY_CACHE_SIZE, verifyKeyCacheSize, verifySignature } from '../../src/identity/verify.ts'
import { rejection } from '../support/stores.ts'

const hex = (text: string): Uint8Array => Uint8Array.from(text.match(/../g) ?? [], (b) => Number.parseInt(b, 16))
const toHex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)

/** RFC 8032 section 7.1, Ed25519 test vectors: secret key (seed), public key, message, signature. */
const RFC8032 = [
  {
    name: 'TEST 1',
    seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'TEST 2',
    seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    name: 'TEST 3',
    seed: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    publicKey: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
  {
    name: 'TEST 1024',
    seed: 'f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5',
    publicKey: '278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e',
    message: [
      '08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1',
      'e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d',
      '658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a',
      '7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e',
      '06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc10',
      '3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1',
      '85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d',
      '502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270',
      '88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089b',
      'eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba',
      'b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969b',
      'e3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7',
      '51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988d',
      'cda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df',
      'f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7',
      '984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4',
      '88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac09',
      '43bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f',
      'b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f161',
      '0e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d',
      'b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8ca',
      'c60c905c15fc910840b94c00a0b9d0',
    ].join(''),
    signature: '0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03',
  },
  {
    name: 'TEST SHA(abc)',
    seed: '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42',
    publicKey: 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
    message: 'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    signature: 'dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704',
  },
]

/** The identity file of a seed, as exportIdentity writes it (docs/format-v1.md, "Identity file"). */
function identityFile(seed: Uint8Array, did: string, extra: Record<string, unknown> = {}): Uint8Array {
  return dagCbor.encode({ v: 1, type: 'ed25519', did, seed, ...extra })
}

async function backendsHere(): Promise<[string, Backend][]> {
  const { webcrypto, noble } = await ed25519Backends()
  // Node 20, Deno and Chromium >= 137 all have WebCrypto Ed25519: a runtime without it here is a failure to detect it.
  expect(webcrypto?.name).toBe('webcrypto')
  return webcrypto === undefined
    ? [['noble', noble]]
    : [
        ['webcrypto', webcrypto],
        ['noble', noble],
      ]
}

function flip(bytes: Uint8Array, at: number): Uint8Array {
  const out = bytes.slice()
  out[at] = (out[at] ?? 0) ^ 0x01
  return out
}

describe('identity: Ed25519 backends', () => {
  test('this runtime signs with WebCrypto, not the noble fallback', async () => {
    expect((await ed25519Backend()).name).toBe('webcrypto')
  })

  test('the SHA(abc) vector signs SHA-512("abc"), and TEST 1024 signs 1023 bytes', () => {
    expect(toHex(sha512(utf8('abc')))).toBe(RFC8032[4]?.message)
    expect(hex(RFC8032[3]?.message ?? '').length).toBe(1023)
  })

  test('RFC 8032 section 7.1 vectors: exact public keys and signatures on every backend', async () => {
    for (const [name, backend] of await backendsHere()) {
      for (const v of RFC8032) {
        const key = await backend.fromSeed(hex(v.seed), true)
        expect(toHex(key.publicKey), `${name} ${v.name} public key`).toBe(v.publicKey)
        expect(toHex(await key.sign(hex(v.message))), `${name} ${v.name} signature`).toBe(v.signature)
        expect(toHex(await key.seed()), `${name} ${v.name} seed`).toBe(v.seed)
        const verifyKey = await backend.importPublicKey(hex(v.publicKey))
        expect(await backend.verify(verifyKey, hex(v.message), hex(v.signature)), `${name} ${v.name} verifies`).toBe(true)
        expect(await backend.verify(verifyKey, flip(hex(v.message).length > 0 ? hex(v.message) : new Uint8Array(1), 0), hex(v.signature))).toBe(false)
        expect(await backend.verify(verifyKey, hex(v.message), flip(hex(v.signature), 10))).toBe(false)
      }
    }
  })

  test('RFC 8032 vectors through the public API: importIdentity of the seed, then sign and verifySignature', async () => {
    for (const v of RFC8032) {
      const did = didKeyOf(hex(v.publicKey))
      const identity = await importIdentity(identityFile(hex(v.seed), did))
      expect(identity.did).toBe(did)
      expect(toHex(identity.publicKey)).toBe(v.publicKey)
      expect(toHex(await identity.sign(hex(v.message)))).toBe(v.signature)
      expect(await verifySignature(did, hex(v.message), hex(v.signature))).toBe(true)
    }
  })

  test('the backends agree byte for byte on random keys and messages, and verify each other', async () => {
    const backends = await backendsHere()
    for (let i = 0; i < 8; i++) {
      const seed = crypto.getRandomValues(new Uint8Array(32))
      const message = crypto.getRandomValues(new Uint8Array(i * 97))
      const results = await Promise.all(
        backends.map(async ([, b]) => {
          const key = await b.fromSeed(seed, false)
          return { publicKey: toHex(key.publicKey), signature: await key.sign(message) }
        }),
      )
      for (const r of results) {
        expect(r.publicKey).toBe(results[0]?.publicKey)
        expect(toHex(r.signature)).toBe(toHex(results[0]?.signature ?? new Uint8Array()))
      }
      for (const [name, b] of backends) {
        const verifyKey = await b.importPublicKey(hex(results[0]?.publicKey ?? ''))
        expect(await b.verify(verifyKey, message, results[0]?.signature ?? new Uint8Array()), name).toBe(true)
      }
    }
    // A key generated by one backend signs as the other does from its seed.
    for (const [, from] of backends) {
      const made = await from.generate(true)
      for (const [name, to] of backends) {
        const again = await to.fromSeed(await made.seed(), true)
        expect(toHex(again.publicKey), name).toBe(toHex(made.publicKey))
        expect(toHex(await again.sign(utf8('same'))), name).toBe(toHex(await made.sign(utf8('same'))))
      }
    }
  })

  test('a malleated signature (S + L, the same point equation) is refused on every backend', async () => {
    const L = 2n ** 252n + 27742317777372353535851937790883648493n
    for (const v of RFC8032.slice(0, 3)) {
      const sig = hex(v.signature)
      let s = 0n
      for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i] ?? 0)
      s += L
      const malleated = sig.slice()
      for (let i = 32; i < 64; i++) {
        malleated[i] = Number(s & 0xffn)
        s >>= 8n
      }
      for (const [name, backend] of await backendsHere()) {
        const key = await backend.importPublicKey(hex(v.publicKey))
        expect(await backend.verify(key, hex(v.message), sig), `${name} ${v.name}`).toBe(true)
        expect(await backend.verify(key, hex(v.message), malleated), `${name} ${v.name} S + L`).toBe(false)
      }
      expect(await verifySignature(didKeyOf(hex(v.publicKey)), hex(v.message), malleated)).toBe(false)
    }
  })

  test('a non-extractable key refuses to give its seed, on every backend', async () => {
    for (const [name, backend] of await backendsHere()) {
      for (const key of [await backend.generate(false), await backend.fromSeed(new Uint8Array(32), false)]) {
        expect(key.extractable, name).toBe(false)
        expect(isCairnError(await rejection(key.seed()), 'CAIRN_UNSUPPORTED'), name).toBe(true)
      }
    }
  })
})

describe('identity: did:key', () => {
  test('the did:key of the all-zero seed is the published one, and decodes back to its public key', async () => {
    const known = 'did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp'
    const zeroPublic = '3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29'
    expect(toHex(publicKeyOf(known))).toBe(zeroPublic)
    expect(didKeyOf(hex(zeroPublic))).toBe(known)
    const identity = await importIdentity(identityFile(new Uint8Array(32), known))
    expect(identity.did).toBe(known)
    expect(toHex(identity.publicKey)).toBe(zeroPublic)
    // The example file of docs/format-v1.md ("Identity file"), byte for byte.
    const documented = [
      'a46176016364696478386469643a6b65793a7a364d6b6954427a31796d75657041513448',
      '454859534631483871754735474c5656515233646a6458336d446f6f5770647365656458',
      '200000000000000000000000000000000000000000000000000000000000000000647479',
      '70656765643235353139',
    ].join('')
    expect(toHex(await exportIdentity(identity))).toBe(documented)
    expect((await importIdentity(hex(documented))).did).toBe(known)
  })

  test('published pairs of a base58 raw public key and its did:key', () => {
    const pairs = [
      ['3Dn1SJNPaCXcvvJvSbsFWP2xaCjMom3can8CQNhWrTRx', 'did:key:z6Mkgg342Ycpuk263R9d8Aq6MUaxPn1DDeHyGo38EefXmgDL'],
      ['HC8vuuvP8x9kVJizh2eujQjo2JwFQJz6w63szzdbu1Q7', 'did:key:z6MkvePyWAApUVeDboZhNbckaWHnqtD6pCETd6xoqGbcpEBV'],
    ] as const
    for (const [raw, did] of pairs) {
      const publicKey = base58btc.baseDecode(raw)
      expect(didKeyOf(publicKey)).toBe(did)
      expect(toHex(publicKeyOf(did))).toBe(toHex(publicKey))
    }
  })

  test('did:key round trip: 0xed 0x01 then the key, base58btc, always did:key:z6Mk', async () => {
    for (let i = 0; i < 20; i++) {
      const publicKey = crypto.getRandomValues(new Uint8Array(32))
      const did = didKeyOf(publicKey)
      expect(did.startsWith('did:key:z6Mk')).toBe(true)
      const bytes = base58btc.decode(did.slice('did:key:'.length))
      expect(Array.from(bytes.subarray(0, 2))).toEqual([0xed, 0x01])
      expect(toHex(publicKeyOf(did))).toBe(toHex(publicKey))
      expect(isDidKey(did)).toBe(true)
    }
    const me = await createIdentity()
    expect(me.did).toBe(didKeyOf(me.publicKey))
  })

  test('publicKeyOf refuses with a TypeError naming the did anything but an Ed25519 did:key', () => {
    const key = new Uint8Array(32).fill(7)
    const z = (bytes: number[]): string => `did:key:${base58btc.encode(Uint8Array.from(bytes))}`
    const bad = [
      'did:web:example.com',
      'did:key:',
      `did:key:u${'A'.repeat(46)}`, // base64url multibase, not base58btc
      'did:key:z6Mk0OIl', // 0, O, I and l are not base58
      z([0xe7, 0x01, ...key, 1]), // secp256k1-pub
      z([0x12, 0x20, ...key]), // a sha2-256 multihash
      z([0xed, 0x01, ...key.subarray(1)]), // 31 bytes
      z([0xed, 0x01, ...key, 0]), // 33 bytes
      z([0xed, 0x81, 0x00, ...key]), // 0xed as a non-minimal varint
      z([0xed]), // a varint cut short
      z(Array.from({ length: 40 }, () => 0x80)), // a varint that never ends
      `${didKeyOf(key)} `,
      ` ${didKeyOf(key)}`,
      'DID:KEY:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp',
    ]
    for (const did of bad) {
      let err: unknown
      try {
        publicKeyOf(did)
      } catch (e) {
        err = e
      }
      expect(err, did).toBeInstanceOf(TypeError)
      expect((err as Error).message, did).toContain(JSON.stringify(did))
      expect(isDidKey(did), did).toBe(false)
    }
    for (const notString of [undefined, null, 42, {}, key]) {
      expect(() => publicKeyOf(notString as unknown as string)).toThrow(TypeError)
      expect(isDidKey(notString)).toBe(false)
    }
  })

  test('didKeyOf refuses anything but 32 bytes', () => {
    for (const wrong of [new Uint8Array(31), new Uint8Array(33), new Uint8Array(0), 'abc', null, Array.from({ length: 32 }, () => 0)]) {
      expect(() => didKeyOf(wrong as Uint8Array)).toThrow(TypeError)
    }
  })
})

describe('identity: verifySignature', () => {
  test('true for a good signature; false for a changed message, a changed signature, another key, a malformed did, a short or long signature', async () => {
    const me = await createIdentity()
    const other = await createIdentity()
    const bytes = utf8('an event to sign')
    const sig = await me.sign(bytes)
    expect(sig).toBeInstanceOf(Uint8Array)
    expect(sig.length).toBe(64)
    expect(await verifySignature(me.did, bytes, sig)).toBe(true)
    for (let at = 0; at < bytes.length; at += 5) expect(await verifySignature(me.did, flip(bytes, at), sig), `message byte ${at}`).toBe(false)
    for (let at = 0; at < 64; at += 7) expect(await verifySignature(me.did, bytes, flip(sig, at)), `signature byte ${at}`).toBe(false)
    expect(await verifySignature(other.did, bytes, sig)).toBe(false)
    expect(await verifySignature(`${me.did}x`, bytes, sig)).toBe(false)
    expect(await verifySignature('did:web:example.com', bytes, sig)).toBe(false)
    expect(await verifySignature('', bytes, sig)).toBe(false)
    expect(await verifySignature(undefined as unknown as string, bytes, sig)).toBe(false)
    expect(await verifySignature(me.did, bytes, sig.subarray(0, 63))).toBe(false)
    expect(await verifySignature(me.did, bytes, Uint8Array.from([...sig, 0]))).toBe(false)
    expect(await verifySignature(me.did, bytes, new Uint8Array(64))).toBe(false)
    expect(await verifySignature(me.did, bytes, Array.from(sig) as unknown as Uint8Array)).toBe(false)
    // The good signature still verifies after all that (the cache holds the right key).
    expect(await verifySignature(me.did, bytes, sig)).toBe(true)
    expect(await verifySignature(other.did, bytes, await other.sign(bytes))).toBe(true)
  })

  test('a did:key whose bytes are no curve point verifies nothing, without throwing', async () => {
    const sig = new Uint8Array(64).fill(1)
    for (const fill of [0xff, 0xee, 0x02]) {
      const did = didKeyOf(new Uint8Array(32).fill(fill))
      expect(await verifySignature(did, utf8('x'), sig)).toBe(false)
    }
  })

  test('bytes that are not a Uint8Array are an argument mistake', async () => {
    const me = await createIdentity()
    expect(await rejection(verifySignature(me.did, 'text' as unknown as Uint8Array, new Uint8Array(64)))).toBeInstanceOf(TypeError)
  })

  test(`the prepared keys stay within ${VERIFY_KEY_CACHE_SIZE} authors, and signatures verify after eviction`, async () => {
    const me = await createIdentity()
    const bytes = utf8('kept')
    const sig = await me.sign(bytes)
    expect(await verifySignature(me.did, bytes, sig)).toBe(true)
    const junk = new Uint8Array(64)
    for (let i = 0; i < VERIFY_KEY_CACHE_SIZE + 50; i += 256) {
      await Promise.all(
        Array.from({ length: 256 }, (_, j) => {
          const key = new Uint8Array(32)
          new DataView(key.buffer).setUint32(0, i + j)
          key[31] = 0x11
          return verifySignature(didKeyOf(key), bytes, junk)
        }),
      )
    }
    expect(verifyKeyCacheSize()).toBeLessThanOrEqual(VERIFY_KEY_CACHE_SIZE)
    expect(await verifySignature(me.did, bytes, sig)).toBe(true)
    expect(await verifySignature(me.did, flip(bytes, 0), sig)).toBe(false)
  })
})

describe('identity: create, export, import', () => {
  test('an exported identity imports with the same did, public key and signatures', async () => {
    const me = await createIdentity()
    expect(me.extractable).toBe(true)
    const file = await exportIdentity(me)
    const again = await importIdentity(file)
    expect(again.did).toBe(me.did)
    expect(toHex(again.publicKey)).toBe(toHex(me.publicKey))
    expect(again.extractable).toBe(true)
    const bytes = utf8('deterministic')
    expect(toHex(await again.sign(bytes))).toBe(toHex(await me.sign(bytes)))
    expect(toHex(await exportIdentity(again))).toBe(toHex(file))
  })

  test('the identity file is the dag-cbor map { v: 1, type: "ed25519", did, seed }', async () => {
    const v = RFC8032[0]!
    const me = await importIdentity(identityFile(hex(v.seed), didKeyOf(hex(v.publicKey))))
    const file = await exportIdentity(me)
    expect(dagCbor.decode(file)).toEqual({ v: 1, type: 'ed25519', did: didKeyOf(hex(v.publicKey)), seed: hex(v.seed) })
    expect(toHex(file)).toBe(toHex(identityFile(hex(v.seed), me.did)))
  })

  test('a non-extractable identity signs but refuses export with CAIRN_UNSUPPORTED', async () => {
    const locked = await createIdentity({ extractable: false })
    expect(locked.extractable).toBe(false)
    const bytes = utf8('still signs')
    expect(await verifySignature(locked.did, bytes, await locked.sign(bytes))).toBe(true)
    expect(isCairnError(await rejection(exportIdentity(locked)), 'CAIRN_UNSUPPORTED')).toBe(true)
    const imported = await importIdentity(await exportIdentity(await createIdentity()), { extractable: false })
    expect(imported.extractable).toBe(false)
    expect(isCairnError(await rejection(exportIdentity(imported)), 'CAIRN_UNSUPPORTED')).toBe(true)
  })

  test('a signer Cairn did not make cannot be exported', async () => {
    const me = await createIdentity()
    const foreign: Identity = { did: me.did, publicKey: me.publicKey, extractable: true, sign: (b) => me.sign(b) }
    expect(isCairnError(await rejection(exportIdentity(foreign)), 'CAIRN_UNSUPPORTED')).toBe(true)
    expect(await rejection(exportIdentity(null as unknown as Identity))).toBeInstanceOf(TypeError)
    const signer: Signer = me
    expect(signer.did).toBe(me.did)
  })

  test('malformed identity files are refused', async () => {
    const seed = crypto.getRandomValues(new Uint8Array(32))
    const good = await importIdentity(identityFile(seed, didKeyOf((await (await ed25519Backend()).fromSeed(seed, true)).publicKey)))
    const other = await createIdentity()
    const invalid: [string, Uint8Array][] = [
      ['empty', new Uint8Array(0)],
      ['random bytes', crypto.getRandomValues(new Uint8Array(80))],
      ['truncated', identityFile(seed, good.did).subarray(0, 40)],
      ['a list', dagCbor.encode([1, 'ed25519', good.did, seed])],
      ['a string', dagCbor.encode('identity')],
      ['no version', dagCbor.encode({ type: 'ed25519', did: good.did, seed })],
      ['no seed', dagCbor.encode({ v: 1, type: 'ed25519', did: good.did })],
      ['no did', dagCbor.encode({ v: 1, type: 'ed25519', seed })],
      ['a 31-byte seed', identityFile(seed.subarray(1), good.did)],
      ['a 64-byte seed', identityFile(Uint8Array.from([...seed, ...seed]), good.did)],
      ['a seed as a string', identityFile('x'.repeat(32) as unknown as Uint8Array, good.did)],
      ['another key type', dagCbor.encode({ v: 1, type: 'secp256k1', did: good.did, seed })],
      ['an extra field', identityFile(seed, good.did, { name: 'me' })],
      ["another key's did", identityFile(seed, other.did)],
      ['a malformed did', identityFile(seed, 'did:key:zzz')],
    ]
    // Not canonical dag-cbor, though it decodes to a good file: "v" as a two-byte integer
    // (the decoder refuses it), "v" as a float64 1.0, the fields in another order.
    const canonical = identityFile(seed, good.did)
    const at = toHex(canonical).indexOf('617601') / 2 // "v" then the integer 1
    expect(at).toBeGreaterThan(0)
    const withV = (...value: number[]): Uint8Array => Uint8Array.from([...canonical.subarray(0, at + 2), ...value, ...canonical.subarray(at + 3)])
    invalid.push(['a non-minimal integer', withV(0x18, 0x01)])
    invalid.push(['a float version', withV(0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0)])
    const pairs = Object.entries({ v: 1, type: 'ed25519', did: good.did, seed }).map(([k, v]) => dagCbor.encode({ [k]: v }).subarray(1))
    invalid.push(['unsorted fields', Uint8Array.from([0xa4, ...pairs.reverse().flatMap((p) => [...p])])])
    expect(dagCbor.decode(invalid.at(-1)![1])).toEqual(dagCbor.decode(canonical))
    for (const [what, bytes] of invalid) {
      const err = await rejection(importIdentity(bytes))
      expect(isCairnError(err, 'CAIRN_INVALID_VALUE'), `${what}: ${String(err)}`).toBe(true)
    }
    expect(isCairnError(await rejection(importIdentity(dagCbor.encode({ v: 2, type: 'ed25519', did: good.did, seed }))), 'CAIRN_UNSUPPORTED')).toBe(true)
    for (const notBytes of [undefined, null, 'file', Array.from(canonical)]) {
      expect(await rejection(importIdentity(notBytes as unknown as Uint8Array))).toBeInstanceOf(TypeError)
    }
    // The good file still imports.
    expect((await importIdentity(canonical)).did).toBe(good.did)
  })

  test('options and arguments are checked', async () => {
    expect(await rejection(createIdentity({ extractable: 'yes' as unknown as boolean }))).toBeInstanceOf(TypeError)
    expect(await rejection(createIdentity(null as unknown as undefined))).toBeInstanceOf(TypeError)
    const me = await createIdentity({})
    expect(me.extractable).toBe(true)
    expect(await rejection(me.sign('text' as unknown as Uint8Array))).toBeInstanceOf(TypeError)
  })

  test('an identity cannot be changed from outside: publicKey is a copy, the object is frozen', async () => {
    const me = await createIdentity()
    const before = toHex(me.publicKey)
    me.publicKey.fill(0)
    expect(toHex(me.publicKey)).toBe(before)
    expect(Object.isFrozen(me)).toBe(true)
    expect(didKeyOf(me.publicKey)).toBe(me.did)
  })

  test('identityOf wraps any backend key with its did', async () => {
    const { noble } = await ed25519Backends()
    const v = RFC8032[1]!
    const viaNoble = identityOf(await noble.fromSeed(hex(v.seed), true))
    expect(viaNoble.did).toBe(didKeyOf(hex(v.publicKey)))
    expect(toHex(await viaNoble.sign(hex(v.message)))).toBe(v.signature)
    expect(toHex(await exportIdentity(viaNoble))).toBe(toHex(identityFile(hex(v.seed), viaNoble.did)))
  })
})

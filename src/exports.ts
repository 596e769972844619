// Everything the entry points share. Each entry adds its own `openStore`.
/**
 * A content identifier (multiformats' `CID` class, re-exported): what every block, event,
 * object and file is named by. Parse one from its string form, compare with `equals`.
 *
 * @example
 * const cid = CID.parse('bafyreidykglsfhoixmivffc5uwhcgshx4j465xwqntbmu43nb2dzqwfvae')
 * cid.equals(encodeValue({ hello: 'world' }).cid)   // true
 */
export { CID } from 'multiformats/cid'
export { CairnError, isCairnError, type CairnErrorCode, type CairnErrorDetails } from './errors/cairn-error.ts'
export type { Progress, ProgressOptions } from './errors/progress.ts'
export { encodeValue, encodeRaw, decodeBlock, verify, verifySync, linksInValue } from './block/codec.ts'
export type { Block, BlockRecord } from './block/interface.ts'
export type { Identity, Signer } from './identity/interface.ts'
export { createIdentity, exportIdentity, importIdentity, type IdentityOptions } from './identity/create.ts'
export { verifySignature } from './identity/verify.ts'
export { didKeyOf, publicKeyOf, isDidKey } from './identity/did-key.ts'
export type { AppendInput, AppendOptions, AsOf, BatchAppendInput, EventBlock, EventFilter, EventMeta, PageOptions, QueryOptions, ReadOptions, ReplayFilter, ReplayOptions, StoredEvent, Stamp, TimeInput } from './log/event/interface.ts'
export { compareEvents } from './log/event/order.ts'
export type { ObjectInfo, ObjectsQuery, PutFileOptions, PutOptions, Referrer } from './objects/interface.ts'
export type { ObjectPutData } from './log/event/object-record.ts'
export { OBJECTS_STREAM, OBJECT_PUT } from './log/event/object-record.ts'
export type { FileSource } from './objects/unixfs.ts'
export type { CommitBatch, CompactOptions, CompactReport, StorageEngine } from './storage/interface.ts'
export { DERIVED_NAME } from './storage/interface.ts'
export type { Projection, ProjectionGetOptions, ProjectionReducer, ProjectionSpec } from './projections/interface.ts'
export { MemoryStorage } from './storage/memory.ts'
export { openIndexedDbStorage, deleteIndexedDbStorage, type IndexedDbStorage, type IndexedDbStorageOptions } from './storage/indexeddb.ts'
export { openBlockstoreStorage, type BlockstoreStorage, type BlockstoreStorageOptions } from './storage/blockstore.ts'
export { CairnStore } from './store/store.ts'
export type { Transaction, TransactionResult } from './store/transaction.ts'
export type { ChangeListener, ChangesOptions, IndexStatus, Reducer, ReduceOptions, StoreStats, SubscribeOptions, VerifyOptions, VerifyReport } from './store/interface.ts'
export type { GrantOptions, StoreOptions } from './store/options.ts'
export { ACCESS_STREAM, ACCESS_GRANT, ACCESS_REVOKE, ALL_STREAMS, type AccessConfig, type GrantData, type RevokeData } from './log/rules/access-names.ts'
export type { Gate, GateEvent } from './log/rules/gates.ts'
export type { BrowserStoreLocation, OpenStore, OpenStoreOptions, StoreLocation } from './store/open.ts'
export { exportToBlob, importFromBlob } from './transports/blob.ts'
export { CAR_MEDIA_TYPE, type ByteSource } from './car/interface.ts'
export type { ExportOptions, ImportOptions, ImportReport } from './store/options.ts'
export { createSyncHandler, type SyncAuthOptions, type SyncCorsOptions, type SyncHandler, type SyncHandlerOptions } from './transports/http/handler.ts'
export { bodyDigest, signRequest, signingString, type SignedRequestFields } from './transports/http/protocol.ts'
export { sync, forgetSyncPeer, type SyncOptions, type SyncReport } from './transports/http/client.ts'

import Crypto
import FoundationEssentials
import HAL

/// Records sealed with AES-256-GCM before they reach storage. The record's name is authenticated data,
/// so a sealed record copied under another name does not open. What this protects: a storage card read
/// outside the device shows no position and no counter. What it does not: an attacker who also has the
/// key file (the device itself, unlocked) — see docs/gps.md.
public struct SealedRecordStore: RecordStore {
    let inner: any RecordStore
    let key: SymmetricKey

    public init(sealing inner: any RecordStore, with key: StorageKey) {
        self.inner = inner
        self.key = SymmetricKey(data: key.bytes)
    }

    public func load(_ name: String) throws(HALError) -> [UInt8]? {
        guard let sealed = try inner.load(name) else { return nil }
        do {
            let box = try AES.GCM.SealedBox(combined: Data(sealed))
            return Array(try AES.GCM.open(box, using: key, authenticating: Data(name.utf8)))
        } catch {
            throw HALError(.io, "record \(name) does not open with this device's key (corrupt or foreign)")
        }
    }

    public func save(_ name: String, _ bytes: [UInt8]) throws(HALError) {
        let sealed: [UInt8]
        do {
            guard let combined = try AES.GCM.seal(Data(bytes), using: key, authenticating: Data(name.utf8)).combined else {
                throw HALError(.io, "sealing record \(name) failed")
            }
            sealed = Array(combined)
        } catch let error as HALError {
            throw error
        } catch {
            throw HALError(.io, "sealing record \(name) failed")
        }
        try inner.save(name, sealed)
    }
}

import Crypto
import FoundationEssentials
import HAL

/// Journal entries sealed with the device's storage key (AES-256-GCM, "journal" as authenticated data): a storage
/// card read elsewhere shows neither the alarm nor a position. Whoever also holds the key file does (docs/threat-model).
public struct SealedJournal: JournalStore {
    let inner: any JournalStore
    let key: SymmetricKey

    public init(sealing inner: any JournalStore, with key: StorageKey) {
        self.inner = inner
        self.key = SymmetricKey(data: key.bytes)
    }

    public var size: Int { inner.size }

    public func latest() throws(HALError) -> (entry: [UInt8]?, problems: [String]) {
        let (sealed, problems) = try inner.latest()
        guard let sealed else { return (nil, problems) }
        do {
            let box = try AES.GCM.SealedBox(combined: Data(sealed))
            return (Array(try AES.GCM.open(box, using: key, authenticating: Data("journal".utf8))), problems)
        } catch {
            return (nil, problems + ["journal: the newest entry does not open with this device's key (corrupt or foreign); ignored"])
        }
    }

    public func append(_ entry: [UInt8]) throws(HALError) { try inner.append(try seal(entry)) }

    public func reset(to entry: [UInt8]?) throws(HALError) { try inner.reset(to: try entry.map(seal)) }

    func seal(_ entry: [UInt8]) throws(HALError) -> [UInt8] {
        do {
            guard let combined = try AES.GCM.seal(Data(entry), using: key, authenticating: Data("journal".utf8)).combined else {
                throw HALError(.io, "sealing a journal entry failed")
            }
            return Array(combined)
        } catch let error as HALError {
            throw error
        } catch {
            throw HALError(.io, "sealing a journal entry failed")
        }
    }
}

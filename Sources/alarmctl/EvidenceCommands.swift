import AlarmRuntime
import ArgumentParser
import Crypto
import Evidence
import PosixIO

struct EvidenceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evidence", abstract: "Evidence recordings: list them on the device, or export one (a tool for the centre).",
        subcommands: [List.self, Export.self])

    static func store(board: String, storage: String?) throws -> FileEvidenceStore {
        let path: String
        if let storage {
            path = storage
        } else {
            do { path = try Board.load(path: board).storagePath } catch { throw ValidationError("\(error)") }
        }
        return FileEvidenceStore(root: try StorageDirectory(path: path + "/evidence", create: false))
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List recordings without opening them (signatures checked, audio stays sealed).")
        @Option(help: "Board file (its storage holds the recordings).") var board = "boards/sim.json5"
        @Option(help: "Storage directory (overrides --board).") var storage: String?

        func run() throws {
            let store = try EvidenceCommand.store(board: board, storage: storage)
            let recordings = try store.recordings()
            if recordings.isEmpty { print("no recordings") }
            for (id, bytes) in recordings {
                let chunks = try store.chunks(id)
                var line = "\(id)  \(chunks.count) chunk(s), \(bytes / 1024) KiB"
                if let first = chunks.first, let verified = try? EvidenceChunk.verify(first) {
                    let seconds = chunks.compactMap { try? EvidenceChunk.verify($0).header.sampleCount }.reduce(0, +) / max(verified.header.sampleRate, 1)
                    let signer = verified.header.devicePublicKey.prefix(8).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
                    line += ", \(seconds) s at \(verified.header.sampleRate) Hz, signer \(signer)…"
                } else {
                    line += ", FIRST CHUNK DOES NOT VERIFY"
                }
                print(line)
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Verify a recording's chunks and their order and write a WAV (needs the centre's private key).")
        @Argument(help: "Recording id (see `alarmctl evidence list`).") var id: String
        @Argument(help: "Output WAV file.") var output: String
        @Option(help: "The centre's X25519 private key file (64 hex digits).") var centreKey: String
        @Option(help: "The device's registered Ed25519 public key (64 hex digits); every chunk must be signed by it.") var deviceKey: String?
        @Option(help: "Board file (its storage holds the recordings).") var board = "boards/sim.json5"
        @Option(help: "Storage directory (overrides --board).") var storage: String?

        func run() throws {
            let store = try EvidenceCommand.store(board: board, storage: storage)
            let keyText = String(decoding: try SecretFile.read(centreKey, limit: 256), as: UTF8.self)
            guard let raw = Self.hex(keyText), let centre = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: raw) else {
                throw ValidationError("\(centreKey): expected an X25519 private key as 64 hex digits")
            }
            let pinned = try deviceKey.map { text -> [UInt8] in
                guard let raw = Self.hex(text), raw.count == 32 else { throw ValidationError("--device-key: expected 64 hex digits") }
                return raw
            }
            let chunks = try store.chunks(id)
            do {
                let wav = try EvidenceExport.wav(chunks: chunks, centre: centre, expectedSigner: pinned)
                let parts = output.split(separator: "/", omittingEmptySubsequences: false)
                let directory = parts.count > 1 ? parts.dropLast().joined(separator: "/") : "."
                try StorageDirectory(path: directory.isEmpty ? "/" : directory).replaceAtomically(String(parts.last!), with: wav)
                print("\(output): \(chunks.count) chunk(s) verified, \((wav.count - 44) / 2) samples")
            } catch let error as EvidenceChunk.ChunkError {
                throw ValidationError("recording \(id) refused: \(error)")
            }
        }

        static func hex(_ text: String) -> [UInt8]? {
            let digits = text.filter { !$0.isWhitespace }
            guard digits.count == 64, digits.allSatisfy({ $0.isASCII && $0.isHexDigit }) else { return nil }
            var out: [UInt8] = []
            var iterator = digits.makeIterator()
            while let h = iterator.next(), let l = iterator.next() { out.append(UInt8(h.hexDigitValue! << 4 | l.hexDigitValue!)) }
            return out
        }
    }
}

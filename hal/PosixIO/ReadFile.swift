import Glibc

extension StorageDirectory {
    /// A whole file by path (board files, records, logs), or nil when it does not exist.
    public static func readFile(_ path: String, limit: Int = 1 << 20) throws(Errno) -> [UInt8]? {
        let fd: FileDescriptor
        do throws(Errno) {
            fd = try FileDescriptor.open(path, O_RDONLY)
        } catch where error == .noSuchFile {
            return nil
        }
        defer { try? fd.close() }
        var contents: [UInt8] = []
        while contents.count <= limit {
            let chunk = try fd.read(upTo: 64 * 1024)
            if chunk.isEmpty { return contents }
            contents.append(contentsOf: chunk)
        }
        // A board file this large is a mistake, not something to load into a 512 MB device.
        throw .fileTooLarge
    }
}

extension Errno {
    public static var fileTooLarge: Errno { Errno(EFBIG) }
}

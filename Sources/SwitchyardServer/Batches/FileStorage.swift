import Foundation
import SwitchyardCore
import SwitchyardStores

/// Where file contents live: one file per id in the files directory (mode 0600, directory
/// 0700), written and read in chunks so that no upload or result file is held whole in memory.
struct FileStorage: Sendable {
    let directory: String

    /// The directory `files.directory` names, else `switchyard-files` next to the database (or,
    /// with PostgreSQL, next to the usage journal).
    init(settings: FileSettings, stores: StoreService) {
        if let directory = settings.directory {
            self.directory = directory
        } else {
            let base: String
            if case .sqlite(let path) = stores.backend { base = (path as NSString).deletingLastPathComponent } else {
                base = (stores.journalPath as NSString).deletingLastPathComponent
            }
            self.directory = (base.isEmpty ? "" : base + "/") + "switchyard-files"
        }
    }

    func path(of id: String) -> String { directory + "/" + id }

    func prepareDirectory() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    /// A new file open for writing under a temporary name, renamed to its id by ``Writer/commit(as:)``.
    func makeWriter() throws -> Writer {
        try prepareDirectory()
        let temporary = directory + "/.partial-" + randomAlphanumerics(16)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw FileStorageError(message: "cannot create a file in \(directory) (errno \(errno))") }
        return Writer(descriptor: descriptor, temporaryPath: temporary, storage: self)
    }

    func remove(_ id: String) {
        unlink(path(of: id))
    }

    /// Calls `body` with the file's contents, chunk by chunk, until it returns false.
    func read(
        _ id: String, chunkBytes: Int = 256 * 1024, isolation: isolated (any Actor)? = #isolation, _ body: ([UInt8]) async throws -> Bool
    ) async throws {
        try await read(path: path(of: id), chunkBytes: chunkBytes, body)
    }

    /// Calls `body` with the contents of the file at `path`, chunk by chunk, until it returns false.
    func read(
        path: String, chunkBytes: Int = 256 * 1024, isolation: isolated (any Actor)? = #isolation, _ body: ([UInt8]) async throws -> Bool
    ) async throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileStorageError(message: "the file's contents are missing") }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: chunkBytes)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, chunkBytes) }
            if count < 0 {
                if errno == EINTR { continue }
                throw FileStorageError(message: "reading a file failed (errno \(errno))")
            }
            if count == 0 { return }
            guard try await body(Array(buffer[0..<count])) else { return }
        }
    }

    final class Writer {
        let descriptor: Int32
        let temporaryPath: String
        let storage: FileStorage
        private(set) var bytes = 0
        private var open = true

        init(descriptor: Int32, temporaryPath: String, storage: FileStorage) {
            self.descriptor = descriptor
            self.temporaryPath = temporaryPath
            self.storage = storage
        }

        func write(_ data: some Collection<UInt8>) throws {
            let array = Array(data)
            var offset = 0
            while offset < array.count {
                let written = array.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, array.count - offset) }
                if written < 0 {
                    if errno == EINTR { continue }
                    throw FileStorageError(message: "writing a file failed (errno \(errno))")
                }
                offset += written
            }
            bytes += array.count
        }

        /// Flushes the contents to disk and gives the file its id.
        func commit(as id: String) throws {
            guard open else { return }
            open = false
            fsync(descriptor)
            close(descriptor)
            guard rename(temporaryPath, storage.path(of: id)) == 0 else {
                unlink(temporaryPath)
                throw FileStorageError(message: "storing a file failed (errno \(errno))")
            }
        }

        /// Drops the file (an upload that failed).
        func discard() {
            guard open else { return }
            open = false
            close(descriptor)
            unlink(temporaryPath)
        }

        deinit { discard() }
    }
}

struct FileStorageError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

extension StoreService {
    /// Files' metadata and batches: in the SQLite database, or with PostgreSQL in this
    /// instance's local SQLite database (the one that holds its audit trail).
    func batchStore() throws -> any BatchStore {
        SQLiteBatchStore(database: try auditDatabase())
    }
}

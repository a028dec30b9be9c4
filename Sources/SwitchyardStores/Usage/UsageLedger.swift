import Foundation
import Logging
import SwitchyardCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The usage ledger: every finished request, written to SQLite in batches without ever losing
/// one that was acknowledged.
///
/// A record is first appended to a journal file (`<database>.usage-journal`) with one `write`
/// system call, synchronously, before the client's response completes; the kernel keeps it even
/// if the process is killed a microsecond later. A background flusher moves the journal into
/// the ``UsageStore`` (SQLite or PostgreSQL) in one insert per batch (every `flushInterval`, on demand before a
/// query, and at shutdown) and truncates the journal once all of it is committed. On start the
/// journal is replayed; request ids are primary keys, so replaying a batch twice is harmless.
/// Memory stays bounded whatever the load: the backlog lives in the journal, read back in
/// slices of at most `maxBatchBytes`. While the backlog is small (the normal case), the records
/// just journaled are also kept in memory, up to `maxBatchBytes`, and the flusher takes them
/// from there instead of reading and parsing the journal again; past that bound, and after a
/// restart, it reads the journal.
public final class UsageLedger: RequestObserver, Sendable {
    public let journalPath: String
    /// The store, opened on first use (so a gateway that records nothing creates nothing).
    let openStore: @Sendable () async throws -> any UsageStore
    let logger: Logger
    let maxBatchBytes: Int
    /// Whether the request log detail (and logged bodies) is journaled with each record.
    let withDetail: @Sendable () -> Bool
    /// Called for every batch the store refused (the records stay journaled and are retried).
    let insertFailed: @Sendable () -> Void
    private struct Journal {
        var fd: Int32 = -1
        /// The records journaled since the file offset `memoryStart`, in order, up to the file
        /// offset `memoryEnd`; `memoryValid` is false once they stopped covering that range
        /// (the bound was reached or a write failed) until the journal is next emptied.
        var memory: [UsageRecord] = []
        var memoryStart: Int64 = 0
        var memoryEnd: Int64 = 0
        var memoryValid = false
    }

    private let journal = Mutex(Journal())
    /// Bytes of the journal already committed to the store.
    private let flushed = Mutex<Int64>(0)
    /// The flush in progress: flushes run one after another.
    private let flushing = Mutex<Task<Int, any Error>?>(nil)
    private let lastError = Mutex<ContinuousClock.Instant?>(nil)

    public init(
        journalPath: String, logger: Logger, maxBatchBytes: Int = 4 * 1024 * 1024,
        withDetail: @escaping @Sendable () -> Bool = { false },
        insertFailed: @escaping @Sendable () -> Void = {},
        store: @escaping @Sendable () async throws -> any UsageStore
    ) {
        self.journalPath = journalPath
        self.withDetail = withDetail
        self.insertFailed = insertFailed
        self.openStore = store
        self.logger = logger
        self.maxBatchBytes = maxBatchBytes
    }

    deinit {
        journal.withLock { journal in if journal.fd >= 0 { close(journal.fd) } }
    }

    // MARK: Recording

    public func requestFinished(_ record: RequestRecord) {
        append(UsageRecord(record, endedAt: WallClock.unixTime(), withDetail: withDetail()))
    }

    /// Appends one record to the journal.
    public func append(_ record: UsageRecord) {
        let line = record.journalLine
        let maxBatchBytes = self.maxBatchBytes
        let failure: Int32? = journal.withLock { journal in
            if journal.fd < 0 {
                journal.fd = open(journalPath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
                if journal.fd < 0 { return errno }
                // Records kept in memory start where the file ends now.
                let size = Self.fileSize(journalPath)
                journal.memory = []
                journal.memoryStart = size
                journal.memoryEnd = size
                journal.memoryValid = true
            }
            let fd = journal.fd
            let failure = line.withUnsafeBytes { buffer -> Int32? in
                var offset = 0
                while offset < buffer.count {
                    let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        return errno
                    }
                    offset += written
                }
                return nil
            }
            if failure != nil || journal.memoryEnd - journal.memoryStart + Int64(line.count) > Int64(maxBatchBytes) {
                journal.memoryValid = false
                journal.memory = []
            } else if journal.memoryValid {
                journal.memory.append(record)
                journal.memoryEnd += Int64(line.count)
            }
            return failure
        }
        if let failure { report("cannot append to the usage journal", detail: String(cString: strerror(failure))) }
    }

    /// Bytes in the journal not yet in the database.
    public var backlogBytes: Int64 {
        let size = Self.fileSize(journalPath)
        return max(0, size - flushed.withLock { $0 })
    }

    // MARK: Queries (each flushes first, so a request that just finished is counted)

    public func usage(_ query: UsageQuery) async throws -> (rows: [UsageTotals], totals: UsageTotals) {
        try await flush()
        return try await openStore().usage(query)
    }

    public func spend(scope: BudgetScope, value: String, since: Int64) async throws -> Double {
        try await flush()
        return try await openStore().spend(scope: scope, value: value, since: since)
    }

    public func count() async throws -> Int {
        try await flush()
        return try await openStore().count()
    }

    public func logs(_ query: RequestLogQuery) async throws -> [UsageRecord] {
        try await flush()
        return try await openStore().logs(query)
    }

    public func log(id: String) async throws -> UsageRecord? {
        try await flush()
        return try await openStore().log(id: id)
    }

    public func latencySamples(_ query: UsageQuery, by dimension: UsageDimension?, limit: Int) async throws -> [LatencySample] {
        try await flush()
        return try await openStore().latencySamples(query, by: dimension, limit: limit)
    }

    public func timeSeries(_ query: UsageQuery, bucketSeconds: Int) async throws -> [UsageTotals] {
        try await flush()
        return try await openStore().timeSeries(query, bucketSeconds: bucketSeconds)
    }

    /// Deletes request log detail (and bodies) older than `before`; usage rows stay.
    public func purgeLogs(before: Double) async throws -> Int {
        try await flush()
        return try await openStore().purgeLogs(before: before)
    }

    // MARK: Flushing

    /// Moves everything journaled so far into the store; returns how many records it wrote.
    /// Concurrent calls run one after another, each seeing what was journaled before it.
    @discardableResult
    public func flush() async throws -> Int {
        let task = flushing.withLock { current -> Task<Int, any Error> in
            let previous = current
            let next = Task {
                _ = try? await previous?.value
                return try await self.flushJournal()
            }
            current = next
            return next
        }
        return try await task.value
    }

    private func flushJournal() async throws -> Int {
        var offset = flushed.withLock { $0 }
        var total = 0
        while true {
            // The records journaled since `offset`, from memory when it holds exactly them.
            let fromMemory: ([UsageRecord], end: Int64)? = journal.withLock { journal in
                guard journal.memoryValid, journal.memoryStart == offset, journal.memoryEnd > offset else { return nil }
                defer {
                    journal.memory = []
                    journal.memoryStart = journal.memoryEnd
                }
                return (journal.memory, journal.memoryEnd)
            }
            let records: [UsageRecord]
            let consumed: Int64
            if let (memory, end) = fromMemory {
                records = memory
                consumed = end - offset
            } else {
                let size = Self.fileSize(journalPath)
                guard size > offset else { break }
                (records, consumed) = try readSlice(from: offset, upTo: size)
                if consumed == 0 { break }
            }
            if !records.isEmpty {
                do {
                    try await openStore().insert(records)
                } catch {
                    // The batch's transaction rolled back as a whole, so none of it is in the
                    // store; the records stay in the journal and the next flush (250 ms later,
                    // or the next query) reads them from there and tries the batch again.
                    insertFailed()
                    journal.withLock { journal in
                        journal.memoryValid = false
                        journal.memory = []
                    }
                    throw error
                }
            }
            offset += consumed
            flushed.withLock { $0 = offset }
            total += records.count
        }
        // All of it is committed: start the journal again, unless a record arrived meanwhile.
        if offset > 0 {
            journal.withLock { journal in
                guard Self.fileSize(journalPath) == offset else { return }
                if journal.fd >= 0 {
                    _ = ftruncate(journal.fd, 0)
                } else {
                    _ = truncate(journalPath, 0)
                }
                flushed.withLock { $0 = 0 }
                journal.memory = []
                journal.memoryStart = 0
                journal.memoryEnd = 0
                journal.memoryValid = journal.fd >= 0
            }
        }
        return total
    }

    /// Reads whole lines from `offset`, at most `maxBatchBytes` (or one line if longer).
    private func readSlice(from offset: Int64, upTo size: Int64) throws -> ([UsageRecord], Int64) {
        let fd = open(journalPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw LedgerError.journal(String(cString: strerror(errno))) }
        defer { close(fd) }
        var length = Int(min(size - offset, Int64(maxBatchBytes)))
        while true {
            var bytes = [UInt8](repeating: 0, count: length)
            let count = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, length, off_t(offset)) }
            guard count >= 0 else { throw LedgerError.journal(String(cString: strerror(errno))) }
            bytes.removeLast(length - count)
            guard let lastNewline = bytes.lastIndex(of: UInt8(ascii: "\n")) else {
                // A line longer than the slice: read more, or stop at a torn last line.
                if Int64(length) < size - offset {
                    length = Int(min(size - offset, Int64(length) * 2))
                    continue
                }
                return ([], 0)
            }
            var records: [UsageRecord] = []
            var start = 0
            for index in 0...lastNewline where bytes[index] == UInt8(ascii: "\n") {
                if index > start {
                    if let record = UsageRecord(journalLine: bytes[start..<index]) {
                        records.append(record)
                    } else {
                        report("skipping a damaged usage journal line", detail: "at byte \(offset + Int64(start))")
                    }
                }
                start = index + 1
            }
            return (records, Int64(lastNewline + 1))
        }
    }

    /// Flushes every `interval` until cancelled, then once more.
    public func run(interval: Duration) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            await flushReporting()
        }
        // A new task: the final flush must not inherit this one's cancellation.
        do {
            _ = try await Task { try await self.flush() }.value
        } catch {
            report("final usage flush failed; the journal keeps the records for the next start", detail: "\(error)")
        }
    }

    public func flushReporting() async {
        guard Self.fileSize(journalPath) > 0 else { return }
        do {
            try await flush()
        } catch {
            report("usage flush failed; records stay in the journal and are retried", detail: "\(error)")
        }
    }

    private func report(_ message: Logger.Message, detail: String) {
        let now = ContinuousClock.now
        let due = lastError.withLock { last in
            guard last.map({ now - $0 > .seconds(10) }) ?? true else { return false }
            last = now
            return true
        }
        if due { logger.error(message, metadata: ["detail": .string(detail), "journal": .string(journalPath)]) }
    }

    static func fileSize(_ path: String) -> Int64 {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : 0
    }

    enum LedgerError: Error, CustomStringConvertible {
        case journal(String)
        var description: String {
            switch self {
            case .journal(let detail): "usage journal: \(detail)"
            }
        }
    }
}

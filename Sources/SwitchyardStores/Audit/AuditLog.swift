import Crypto
import Foundation
import GRDB
import Logging
import SwitchyardCore
import Synchronization

/// A stored audit event with its place in the hash chain.
public struct AuditRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "audit_events"

    public var seq: Int64
    public var ts: Double
    public var kind: String
    public var action: String
    public var actor: String
    public var outcome: String
    public var target: String?
    public var reason: String?
    public var requestID: String?
    /// The details as canonical JSON (keys sorted).
    public var details: String
    /// The previous record's `mac` (empty for the first record).
    public var prevMac: String
    /// HMAC-SHA256 over this record's content and `prevMac`, keyed by the server secret.
    public var mac: String

    /// The bytes the MAC covers: every field, length-prefixed so no two records collide.
    var signedContent: [UInt8] {
        var bytes: [UInt8] = []
        for field in [
            String(seq), JSONValue(ts).serialized(), kind, action, actor, outcome, target ?? "\u{0}", reason ?? "\u{0}", requestID ?? "\u{0}",
            details, prevMac,
        ] {
            let utf8 = Array(field.utf8)
            bytes += Array(String(utf8.count).utf8) + [UInt8(ascii: ":")] + utf8
        }
        return bytes
    }

    public var json: JSONValue {
        var object: JSONObject = [
            "seq": JSONValue(Int(seq)), "ts": JSONValue(ts), "time": .string(CivilDate.iso8601(Int64(ts))), "kind": .string(kind),
            "action": .string(action), "actor": .string(actor), "outcome": .string(outcome), "prev_mac": .string(prevMac), "mac": .string(mac),
        ]
        object["target"] = target.map(JSONValue.string) ?? .null
        object["reason"] = reason.map(JSONValue.string) ?? .null
        object["request_id"] = requestID.map(JSONValue.string) ?? .null
        object["details"] = (try? JSONValue.parse(details)) ?? .object(JSONObject())
        return .object(object)
    }
}

/// The audit trail: an append-only table in which each record carries the HMAC of its content
/// and of the previous record's MAC, so altering, deleting, inserting or reordering records
/// breaks the chain at that point (``verify()``). Events are written in order by one writer;
/// recording returns at once.
public final class AuditLog: AuditSink, Sendable {
    let database: @Sendable () throws -> SwitchyardDatabase
    let secret: @Sendable () throws -> String
    private let derivedKey = Mutex<SymmetricKey?>(nil)
    let logger: Logger
    private let pending = Mutex<(events: [AuditEvent], draining: Bool)>(([], false))
    /// An append-only file outside the database: every `checkpointEvery` records, the sequence
    /// number and MAC of the newest record, signed. A trail cut short (its newest records
    /// deleted, which the chain alone cannot show) or rewritten from some point on then no
    /// longer matches a checkpoint.
    let checkpointPath: String?
    let checkpointEvery: Int
    private let drained = Mutex<[CheckedContinuation<Void, Never>]>([])

    /// `secret`: the server secret (read on first use); the MAC key is derived from it for
    /// this purpose only.
    public init(
        logger: Logger, secret: @escaping @Sendable () throws -> String, database: @escaping @Sendable () throws -> SwitchyardDatabase,
        checkpointPath: String? = nil, checkpointEvery: Int = 100
    ) {
        self.database = database
        self.secret = secret
        self.logger = logger
        self.checkpointPath = checkpointPath
        self.checkpointEvery = max(1, checkpointEvery)
    }

    /// The signature of a checkpoint line's content (a key derived for checkpoints only).
    func checkpointSignature(seq: Int64, mac: String, time: Double) throws -> String {
        let key = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array("switchyard audit checkpoints v1".utf8), using: try self.key()))
        return VirtualKeyFormat.hex(HMAC<SHA256>.authenticationCode(for: Array("\(seq)|\(mac)|\(time)".utf8), using: key))
    }

    /// Appends a checkpoint for the newest record (also called after every `checkpointEvery`
    /// records and at shutdown).
    public func checkpoint() async {
        await flush()
        guard let checkpointPath, let database = try? self.database(),
            let last = try? await database.pool.read({ db in try AuditRecord.order(Column("seq").desc).fetchOne(db) })
        else { return }
        writeCheckpoint(seq: last.seq, mac: last.mac, path: checkpointPath)
    }

    private func writeCheckpoint(seq: Int64, mac: String, path: String) {
        let time = (WallClock.unixTime() * 1000).rounded() / 1000
        guard let signature = try? checkpointSignature(seq: seq, mac: mac, time: time) else { return }
        let line: JSONValue = ["seq": JSONValue(Int(seq)), "mac": .string(mac), "time": JSONValue(time), "sig": .string(signature)]
        let bytes = Array((line.serialized() + "\n").utf8)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard descriptor >= 0 else {
            logger.error("audit checkpoint could not be written", metadata: ["path": .string(path)])
            return
        }
        defer { close(descriptor) }
        _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        _ = fsync(descriptor)
    }

    func key() throws -> SymmetricKey {
        if let key = derivedKey.withLock({ $0 }) { return key }
        let base = SymmetricKey(data: Array(try secret().utf8))
        let key = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array("switchyard audit trail v1".utf8), using: base))
        derivedKey.withLock { $0 = key }
        return key
    }

    public func record(_ event: AuditEvent) {
        let start = pending.withLock { state -> Bool in
            state.events.append(event)
            if state.draining { return false }
            state.draining = true
            return true
        }
        if start { Task { await drain() } }
    }

    /// Waits until every event recorded so far is written.
    public func flush() async {
        let idle = pending.withLock { $0.events.isEmpty && !$0.draining }
        if idle { return }
        await withCheckedContinuation { continuation in
            let resumeNow = pending.withLock { state -> Bool in
                if state.events.isEmpty && !state.draining { return true }
                drained.withLock { $0.append(continuation) }
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    private func drain() async {
        while true {
            let batch = pending.withLock { state -> [AuditEvent] in
                let events = state.events
                state.events = []
                if events.isEmpty { state.draining = false }
                return events
            }
            if batch.isEmpty {
                for waiter in drained.withLock({ waiters in
                    defer { waiters = [] }; return waiters
                }) { waiter.resume() }
                return
            }
            do {
                try await append(batch)
            } catch {
                logger.error("audit events could not be written", metadata: ["count": .stringConvertible(batch.count), "error": .string("\(error)")])
            }
        }
    }

    func mac(_ record: AuditRecord, key: SymmetricKey) -> String {
        VirtualKeyFormat.hex(HMAC<SHA256>.authenticationCode(for: record.signedContent, using: key))
    }

    private func append(_ events: [AuditEvent]) async throws {
        let database = try self.database()
        let key = try self.key()
        let head = try await database.pool.write { db -> (before: Int64, seq: Int64, mac: String) in
            let last = try AuditRecord.order(Column("seq").desc).fetchOne(db)
            var seq = last?.seq ?? 0
            var previous = last?.mac ?? ""
            for event in events {
                seq += 1
                let details = JSONValue.object(
                    JSONObject(event.details.sorted { $0.key < $1.key }.map { (key: $0.key, value: JSONValue.string($0.value)) }))
                var record = AuditRecord(
                    seq: seq, ts: event.time, kind: event.kind.rawValue, action: event.action, actor: event.actor, outcome: event.outcome,
                    target: event.target, reason: event.reason, requestID: event.requestID, details: details.serialized(), prevMac: previous, mac: "")
                record.mac = self.mac(record, key: key)
                try record.insert(db)
                previous = record.mac
            }
            return (last?.seq ?? 0, seq, previous)
        }
        if let checkpointPath, head.seq / Int64(checkpointEvery) > head.before / Int64(checkpointEvery) {
            writeCheckpoint(seq: head.seq, mac: head.mac, path: checkpointPath)
        }
    }

    /// Records in order, newest last (or first with `newestFirst`), with optional filters;
    /// `after` and `before` bound the sequence numbers (exclusive). `details` keeps records
    /// whose details have each key with that value (nil: without the key); keys are the
    /// caller's own names (letters, digits and `_`).
    public func list(
        kind: String? = nil, actor: String? = nil, after: Int64 = 0, before: Int64? = nil, newestFirst: Bool = false, limit: Int = 100,
        details: [(key: String, value: String?)] = []
    ) async throws -> [AuditRecord] {
        await flush()
        for (key, _) in details {
            precondition(!key.isEmpty && key.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }, "audit detail key \(key)")
        }
        return try await database().pool.read { db in
            var request = AuditRecord.filter(Column("seq") > after)
            if let before { request = request.filter(Column("seq") < before) }
            if let kind { request = request.filter(Column("kind") == kind) }
            if let actor { request = request.filter(Column("actor") == actor) }
            for (key, value) in details {
                if let value {
                    request = request.filter(sql: "json_extract(details, ?) = ?", arguments: ["$." + key, value])
                } else {
                    request = request.filter(sql: "json_extract(details, ?) IS NULL", arguments: ["$." + key])
                }
            }
            return try request.order(newestFirst ? Column("seq").desc : Column("seq")).limit(limit).fetchAll(db)
        }
    }

    /// The result of checking the whole chain.
    public struct Verification: Sendable, Equatable {
        public var records: Int
        /// The first record (by position) where the chain breaks, and why.
        public var firstBroken: (seq: Int64, problem: String)?

        public var intact: Bool { firstBroken == nil }

        public static func == (lhs: Verification, rhs: Verification) -> Bool {
            lhs.records == rhs.records && lhs.firstBroken?.seq == rhs.firstBroken?.seq && lhs.firstBroken?.problem == rhs.firstBroken?.problem
        }
    }

    /// Recomputes every MAC and link: reports the first record that was altered, the first gap
    /// (a deleted record) and the first record out of order.
    public func verify() async throws -> Verification {
        await flush()
        let key = try self.key()
        var result = try await database().pool.read { db -> Verification in
            var previousMac = ""
            var expectedSeq: Int64 = 1
            var count = 0
            let cursor = try AuditRecord.order(Column("rowid")).fetchCursor(db)
            while let record = try cursor.next() {
                count += 1
                if record.mac != self.mac(record, key: key) {
                    return Verification(records: count, firstBroken: (record.seq, "its content does not match its MAC (altered)"))
                }
                if record.seq != expectedSeq {
                    let problem = record.seq > expectedSeq ? "a record before it is missing (deleted) or was moved" : "it is out of order (moved)"
                    return Verification(records: count, firstBroken: (record.seq, problem))
                }
                if record.prevMac != previousMac {
                    return Verification(records: count, firstBroken: (record.seq, "it does not follow the record before it (reordered or replaced)"))
                }
                previousMac = record.mac
                expectedSeq += 1
            }
            return Verification(records: count, firstBroken: nil)
        }
        if result.intact, let problem = try await checkpointProblem(records: result.records) { result.firstBroken = problem }
        return result
    }

    /// The problem the checkpoints show in a chain that is intact in itself, if any.
    func checkpointProblem(records: Int) async throws -> (seq: Int64, problem: String)? {
        guard let checkpointPath, let data = FileManager.default.contents(atPath: checkpointPath) else { return nil }
        let database = try self.database()
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            guard let value = try? JSONValue.parse(String(line)), let seq = value["seq"]?.intValue, let mac = value["mac"]?.stringValue,
                let time = value["time"]?.doubleValue, let signature = value["sig"]?.stringValue
            else { return (0, "the checkpoint file has an unreadable line (altered)") }
            guard try checkpointSignature(seq: Int64(seq), mac: mac, time: time) == signature else {
                return (Int64(seq), "its checkpoint's signature does not match (the checkpoint file was altered)")
            }
            if seq > records {
                return (Int64(seq), "the trail ends at record \(records) but a checkpoint vouches for record \(seq) (truncated)")
            }
            let stored = try await database.pool.read { db in try AuditRecord.filter(Column("seq") == seq).fetchOne(db)?.mac }
            if stored != mac { return (Int64(seq), "it differs from its checkpoint (the trail was rewritten from here)") }
        }
        return nil
    }
}

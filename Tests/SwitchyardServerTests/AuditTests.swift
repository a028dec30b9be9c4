import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SwitchyardCore
import SwitchyardServer
import Testing

@testable import SwitchyardStores

/// The audit trail: what is recorded, and that tampering is found.
@Suite struct AuditTests {
    static let yaml = """
        server: {port: 0, master_key: test-master-key, reload_check_interval: off}
        providers:
          - {name: p, type: mock}
        models:
          - {name: chat, provider: p, model: m}
          - {name: big, provider: p, model: b}
        """

    @Test func refusalsAndKeyChangesAreRecordedWithoutSecrets() async throws {
        let (application, path) = try makeGateway(Self.yaml)
        try await application.makeApplication().test(.live) { client in
            let created = try await client.execute(
                uri: "/admin/keys", method: .post, headers: authorized, body: ByteBuffer(string: #"{"name":"app","models":["chat"],"team_id":"t"}"#))
            let key = try #require(created.json?["key"]?.stringValue)
            let id = try #require(created.json?["id"]?.stringValue)
            let headers: HTTPFields = [.authorization: "Bearer \(key)", .contentType: "application/json"]
            #expect(
                try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: chatBody(model: "big")).status
                    == .forbidden)
            let wrong: HTTPFields = [.authorization: "Bearer sk-wrong-key-123", .contentType: "application/json"]
            #expect(try await client.execute(uri: "/v1/chat/completions", method: .post, headers: wrong, body: chatBody()).status == .unauthorized)
            #expect(try await client.execute(uri: "/admin/keys", method: .get, headers: [.authorization: "Bearer \(key)"]).status == .forbidden)
            _ = try await client.execute(uri: "/admin/keys/\(id)/revoke", method: .post, headers: authorized)

            let listed = try await client.execute(uri: "/admin/audit", method: .get, headers: authorized)
            let records = try #require(listed.json?["data"]?.arrayValue)
            let actions = records.map { "\($0["action"]?.stringValue ?? ""):\($0["outcome"]?.stringValue ?? "")" }
            #expect(actions == ["key.create:success", "request.denied:denied", "authenticate:denied", "key.list:denied", "key.revoke:success"])
            let denied = records[1]
            #expect(denied["actor"]?.stringValue == id && denied["target"]?.stringValue == "big")
            #expect(denied["reason"]?.stringValue == "model_not_allowed")
            #expect(denied["details"]?["team"]?.stringValue == "t")
            #expect(!listed.text.contains(key) && !listed.text.contains("sk-wrong-key-123"), "no credential in the trail")
            let verified = try await client.execute(uri: "/admin/audit/verify", method: .get, headers: authorized)
            #expect(verified.json?["intact"]?.boolValue == true && verified.json?["records"]?.intValue == 5)
            let forbidden = try await client.execute(uri: "/admin/audit", method: .get, headers: [.authorization: "Bearer \(key)"])
            #expect(forbidden.status == .unauthorized, "a revoked key is refused")
        }
        _ = path
    }

    /// Writes `count` events into a fresh database and returns the log and the database.
    func trail(_ count: Int) async throws -> (AuditLog, SwitchyardDatabase) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString)").path
        let database = try SwitchyardDatabase(path: directory + "/switchyard.db")
        let log = AuditLog(logger: quietLogger, secret: { String(repeating: "k", count: 40) }, database: { database })
        for index in 0..<count {
            log.record(AuditEvent(kind: .admin, action: "key.create", actor: "master", outcome: "success", target: "key_\(index)"))
        }
        await log.flush()
        return (log, database)
    }

    @Test func verificationFindsAFlippedByteADeletedRecordAndASwappedPair() async throws {
        let (intact, _) = try await trail(6)
        let fine = try await intact.verify()
        #expect(fine.intact && fine.records == 6)

        let (altered, database) = try await trail(6)
        try await database.pool.write { db in try db.execute(sql: "UPDATE audit_events SET target = 'key_X' WHERE seq = 3") }
        let flipped = try await altered.verify()
        #expect(flipped.firstBroken?.seq == 3 && flipped.firstBroken?.problem.contains("altered") == true)

        let (deleted, database2) = try await trail(6)
        try await database2.pool.write { db in try db.execute(sql: "DELETE FROM audit_events WHERE seq = 4") }
        let gap = try await deleted.verify()
        #expect(gap.firstBroken?.seq == 5 && gap.firstBroken?.problem.contains("missing") == true)

        let (swapped, database3) = try await trail(6)
        try await database3.pool.write { db in
            // Exchange the positions of records 2 and 3; each keeps its own valid MAC.
            try db.execute(sql: "UPDATE audit_events SET rowid = -2 WHERE seq = 2")
            try db.execute(sql: "UPDATE audit_events SET rowid = 2 WHERE seq = 3")
            try db.execute(sql: "UPDATE audit_events SET rowid = 3 WHERE seq = 2")
        }
        let reordered = try await swapped.verify()
        #expect(reordered.firstBroken?.seq == 3, "a swapped pair breaks the chain where it starts")

        let (forged, database4) = try await trail(3)
        try await database4.pool.write { db in
            try db.execute(sql: "UPDATE audit_events SET actor = 'someone', mac = 'ffff' WHERE seq = 2")
        }
        #expect(try await forged.verify().firstBroken?.seq == 2, "a MAC cannot be forged without the server secret")
    }

    @Test func checkpointsOutsideTheDatabaseRevealATruncatedOrRewrittenTrail() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString)").path
        let database = try SwitchyardDatabase(path: directory + "/switchyard.db")
        let checkpoints = directory + "/switchyard.db.audit-checkpoints"
        let log = AuditLog(
            logger: quietLogger, secret: { String(repeating: "k", count: 40) }, database: { database }, checkpointPath: checkpoints,
            checkpointEvery: 5)
        for index in 0..<12 {
            log.record(AuditEvent(kind: .admin, action: "key.create", actor: "master", outcome: "success", target: "key_\(index)"))
            if index % 3 == 0 { await log.flush() }
        }
        await log.checkpoint()
        let lines = try String(contentsOfFile: checkpoints, encoding: .utf8).split(separator: "\n")
        #expect(lines.count >= 3, "every 5 records and at the end")
        #expect(try await log.verify().intact)

        // A forged checkpoint line is refused.
        let original = try String(contentsOfFile: checkpoints, encoding: .utf8)
        try (original + #"{"seq":3,"mac":"00","time":1,"sig":"00"}"# + "\n").write(toFile: checkpoints, atomically: true, encoding: .utf8)
        #expect(try await log.verify().firstBroken?.problem.contains("signature") == true)
        try original.write(toFile: checkpoints, atomically: true, encoding: .utf8)

        // Deleting the newest records leaves a chain that is intact in itself: the checkpoint shows it.
        try await database.pool.write { db in try db.execute(sql: "DELETE FROM audit_events WHERE seq > 9") }
        let truncated = try await log.verify()
        #expect(truncated.firstBroken?.problem.contains("truncated") == true, "\(truncated)")
        #expect(truncated.firstBroken.map { $0.seq > 9 } == true)
    }
}

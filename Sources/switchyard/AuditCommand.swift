import ArgumentParser
import Foundation
import Logging
import SwitchyardCore
import SwitchyardServer
import SwitchyardStores

/// `switchyard audit ...`: the tamper-evident audit trail in the gateway's database.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Verify or export the audit trail (hash-chained records in the gateway's database).",
        subcommands: [Verify.self, Export.self]
    )

    static func open(_ stores: StoreService) -> AuditLog {
        AuditLog(
            logger: Logger(label: "switchyard.audit"), secret: { try stores.serverSecret() }, database: { try stores.auditDatabase() },
            checkpointPath: stores.auditCheckpointPath)
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every record's MAC and link; exit 1 and name the first altered, deleted or reordered record.")
        @OptionGroup var location: KeysCommand.Location

        func run() async throws {
            let result = try await location.withStores { try await AuditCommand.open($0).verify() }
            if let broken = result.firstBroken {
                FileHandle.standardError.write(Data("audit trail BROKEN at record \(broken.seq): \(broken.problem)\n".utf8))
                throw ExitCode(1)
            }
            print("audit trail intact: \(result.records) records")
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the audit trail as JSON lines, oldest first.")
        @OptionGroup var location: KeysCommand.Location
        @Option(help: "Only records after this sequence number.") var after: Int64 = 0

        func run() async throws {
            try await location.withStores { stores in
                let log = AuditCommand.open(stores)
                var cursor = after
                while true {
                    let page = try await log.list(after: cursor, limit: 1000)
                    for record in page { print(record.json.serialized()) }
                    guard let last = page.last, page.count == 1000 else { break }
                    cursor = last.seq
                }
            }
        }
    }
}

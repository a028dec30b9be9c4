import ArgumentParser
import Foundation
import Logging
import SwitchyardCore
import SwitchyardServer
import SwitchyardStores

/// `switchyard keys ...`: virtual keys in the gateway's database, without a running gateway.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create, list, rotate and revoke virtual keys (in the database next to the configuration).",
        subcommands: [Create.self, List.self, Revoke.self, Rotate.self]
    )

    struct Location: ParsableArguments {
        @Option(name: .shortAndLong, help: "YAML configuration file; its server.database (default: switchyard.db next to it) is used.")
        var config: String?

        /// Runs `body` with the configuration's key store (SQLite or PostgreSQL), then closes it.
        func withKeyStore<T>(_ body: (any KeyStore) async throws -> T) async throws -> T {
            try await withStores { try await body(try await $0.keyStore()) }
        }

        /// Runs `body` with the stores the configuration names, then closes them.
        func withStores<T>(_ body: (StoreService) async throws -> T) async throws -> T {
            let source: ConfigurationSource = config.map { .file($0) } ?? .embeddedDefault
            let loaded: GatewayConfig
            do {
                loaded = try source.load().config
            } catch {
                printDiagnostics(error.diagnostics)
                throw ExitCode(1)
            }
            let stores = try StoreService.make(settings: loaded.server, source: source, logger: Logger(label: "switchyard.keys"))
            do {
                let result = try await body(stores)
                await stores.shutdown()
                return result
            } catch {
                await stores.shutdown()
                throw error
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key and print it once (it is stored only as a hash).")
        @OptionGroup var location: Location
        @Option(help: "A name to recognise the key by.") var name: String
        @Option(help: "Allowed model groups, comma-separated (default: all).") var models: String?
        @Option(help: "Allowed endpoints, comma-separated: chat_completions, completions, embeddings, messages.") var endpoints: String?
        @Option(help: "Rate-limit tier (limits.tiers).") var tier: String?
        @Option(help: "Team id.") var team: String?
        @Option(help: "User id.") var user: String?
        @Option(help: "Organisation id.") var org: String?
        @Option(help: "Allowed deployment regions, comma-separated.") var regions: String?
        @Option(help: "Lifetime such as 30d, 12h or 90m (default: no expiry).") var expiresIn: String?
        @Option(help: "Spending cap in USD per --budget-period (default: none).") var budget: Double?
        @Option(help: "daily, weekly, monthly or total (default: monthly).") var budgetPeriod: String = "monthly"

        func run() async throws {
            var options = KeyOptions(name: name)
            let list = { (text: String?) in text.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } } }
            options.models = list(models)
            options.endpoints = list(endpoints)
            options.regions = list(regions)
            options.tier = tier
            options.teamID = team
            options.userID = user
            options.organizationID = org
            if let budget {
                guard budget >= 0, budget.isFinite else { throw ValidationError("--budget must be a non-negative amount of USD") }
                guard let period = BudgetPeriod(rawValue: budgetPeriod) else {
                    throw ValidationError("--budget-period must be daily, weekly, monthly or total")
                }
                options.budget = BudgetLimit(amount: budget, period: period)
            }
            if let expiresIn {
                guard let seconds = KeyOptions.parseLifetime(expiresIn) else { throw ValidationError("--expires-in must look like 30d, 12h or 90m") }
                options.expiresAt = WallClock.unixTime() + seconds
            }
            let created = try await location.withKeyStore { try await $0.create(options) }
            var json = created.key.json.objectValue ?? JSONObject()
            json["key"] = .string(created.plaintext)
            print(JSONValue.object(json).serialized())
        }

    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys as JSON lines (never the keys themselves).")
        @OptionGroup var location: Location

        func run() async throws {
            for key in try await location.withKeyStore({ try await $0.list() }) { print(key.json.serialized()) }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key: it stops working at once.")
        @OptionGroup var location: Location
        @Argument(help: "The key's id (key_...).") var id: String

        func run() async throws {
            do {
                print(try await location.withKeyStore { try await $0.revoke(id: id) }.json.serialized())
            } catch let error as KeyStoreError {
                FileHandle.standardError.write(Data("\(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give a key a new secret (printed once); the old one stops working.")
        @OptionGroup var location: Location
        @Argument(help: "The key's id (key_...).") var id: String

        func run() async throws {
            do {
                let rotated = try await location.withKeyStore { try await $0.rotate(id: id) }
                var json = rotated.key.json.objectValue ?? JSONObject()
                json["key"] = .string(rotated.plaintext)
                print(JSONValue.object(json).serialized())
            } catch let error as KeyStoreError {
                FileHandle.standardError.write(Data("\(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}

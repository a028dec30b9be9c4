import Testing

@testable import SwitchyardCore

/// `server.database` as a PostgreSQL URL: parsing, validation, secrecy and the required key secret.
@Suite struct PostgresConfigTests {
    static let environment = ["DATABASE_URL": "postgres://gateway:s3cr%40t@db.internal:6432/switchyard", "KEY_SECRET": "0123456789abcdef"]
    let loader = ConfigLoader(environment: Self.environment, fileExists: { _ in false })

    func load(_ server: [(String, ConfigNode)]) -> ConfigLoader.Outcome {
        loader.load(Node.map([("server", Node.map(server))]), source: "test.yaml")
    }

    @Test func parsesPostgresURLs() throws {
        let full = try PostgresURL(
            parsing: "postgresql://app:p%40ss%3Aw%2Frd@db.example.com:6432/gateway?sslmode=verify-ca&pool_size=4&connect_timeout=3")
        #expect(full.username == "app" && full.password == "p@ss:w/rd")
        #expect(full.host == "db.example.com" && full.port == 6432 && full.database == "gateway")
        #expect(full.tls == .verifyCA && full.poolSize == 4 && full.connectTimeout == .seconds(3))
        #expect(!full.description.contains("p@ss") && !full.description.contains("p%40ss"), "the description never shows the password")

        let local = try PostgresURL(parsing: "postgres://app@localhost/db")
        #expect(local.port == 5432 && local.password == nil && local.tls == .disable, "loopback defaults to plain TCP")
        let remote = try PostgresURL(parsing: "postgres://app:pw@10.1.2.3/db")
        #expect(remote.tls == .require, "anything else defaults to verified TLS")
        let unencodedAt = try PostgresURL(parsing: "postgres://app:p@ss@127.0.0.1:5433")
        #expect(unencodedAt.password == "p@ss" && unencodedAt.database == nil && unencodedAt.port == 5433)
        let ipv6 = try PostgresURL(parsing: "postgres://app@[::1]:5499/db")
        #expect(ipv6.host == "::1" && ipv6.port == 5499 && ipv6.tls == .disable)
        let socket = try PostgresURL(parsing: "postgres://app@/db?host=/var/run/postgresql")
        #expect(socket.unixSocketPath == "/var/run/postgresql/.s.PGSQL.5432" && socket.tls == .disable)

        for bad in [
            "mysql://a@b/c", "postgres://host/db", "postgres://a@/db", "postgres://a@h:0/db", "postgres://a@h:70000/db",
            "postgres://a@h/db?sslmode=allow",
            "postgres://a@h/db?colour=blue", "postgres://a:%zz@h/db", "postgres://a@h/db?pool_size=0", "postgres://a@[::1/db",
            "postgres://a@h/db?host=relative", "postgres://a@h/db?sslmode=disable&sslrootcert=/ca.pem",
        ] {
            #expect(throws: PostgresURLError.self, "\(bad)") { try PostgresURL(parsing: bad) }
        }
        #expect(PostgresURL.isPostgresURL("PostgreSQL://x@y") && !PostgresURL.isPostgresURL("/var/lib/switchyard.db"))
    }

    @Test func databaseIsAPostgresURLOrASQLitePath() throws {
        let fromEnvironment = load([("database", Node.scalar("env:DATABASE_URL")), ("key_secret", Node.scalar("env:KEY_SECRET"))])
        #expect(fromEnvironment.errors.isEmpty, "\(fromEnvironment.errors)")
        let server = try #require(fromEnvironment.config?.server)
        #expect(server.databaseURL?.reveal() == Self.environment["DATABASE_URL"])
        #expect(server.databaseURL?.description.contains("s3cr") == false, "the URL is a secret")
        #expect(server.databasePath == nil)
        let snapshot = RuntimeSnapshot(config: try #require(fromEnvironment.config), adapters: [:], generation: 1)
        #expect(!snapshot.scrubber.scrub("failed: password s3cr@t rejected").contains("s3cr@t"), "error texts never carry the password")

        let inline = load([("database", Node.scalar("postgres://u:pw@127.0.0.1/db")), ("key_secret", Node.scalar("0123456789abcdef"))])
        #expect(inline.errors.isEmpty && inline.config?.server.databaseURL != nil)

        let sqlite = load([("database", Node.scalar("/var/lib/switchyard/keys.db"))])
        #expect(sqlite.errors.isEmpty && sqlite.config?.server.databasePath == "/var/lib/switchyard/keys.db")
        #expect(sqlite.config?.server.databaseURL == nil, "a path keeps the SQLite default and needs no key secret")
    }

    @Test func aSharedDatabaseNeedsASharedKeySecretAndAValidURL() {
        let noSecret = load([("database", Node.scalar("env:DATABASE_URL"))])
        #expect(noSecret.config == nil)
        let missing = noSecret.errors.first { $0.message.contains("server.key_secret is required") }
        #expect(missing != nil, "\(noSecret.errors)")
        #expect(missing?.hint?.contains("same secret") == true)

        let badURL = load([("database", Node.scalar("postgres://u:hunter22@h/db?sslmode=sometimes")), ("key_secret", Node.scalar("k"))])
        let message = badURL.errors.first { $0.message.contains("server.database") }
        #expect(message?.message.contains("sslmode") == true)
        #expect(message.map { !$0.description.contains("hunter22") } == true, "the error never quotes the password")

        let unset = load([("database", Node.scalar("env:NO_SUCH_DATABASE_URL")), ("key_secret", Node.scalar("k"))])
        #expect(unset.errors.contains { $0.message.contains("NO_SUCH_DATABASE_URL is not set") })
    }
}

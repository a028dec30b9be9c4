/// Where the PostgreSQL server shared by several gateway instances is, and how to reach it:
/// `postgres://user:password@host:port/database?sslmode=require` (`postgresql://` too).
///
/// The URL carries a password, so the configuration keeps it as a ``Secret`` and this value's
/// `description` leaves the password out. Parsing errors never quote the URL either.
///
/// Query parameters: `sslmode` (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`;
/// default `disable` for a loopback host or a Unix socket, `require` otherwise), `sslrootcert`
/// (a PEM file of CA certificates to trust instead of the system's), `connect_timeout` (seconds,
/// default 10), `operation_timeout` (seconds one store operation may take, waiting for a
/// connection included, default 5), `pool_size` (connections per instance, default 10), `application_name` (default
/// `switchyard`) and `host` (a Unix socket directory such as `/var/run/postgresql`, instead of a
/// host in the authority).
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    /// How the connection is encrypted.
    public enum TLSMode: String, Sendable, Equatable, CaseIterable {
        /// Plain TCP.
        case disable
        /// TLS when the server offers it (certificate and host name verified), else plain TCP.
        case prefer
        /// TLS or no connection; the certificate chain and the host name are verified
        /// (stricter than libpq's `require`, which verifies nothing).
        case require
        /// TLS; the certificate chain is verified, the host name is not.
        case verifyCA = "verify-ca"
        /// TLS; the certificate chain and the host name are verified (same as `require`).
        case verifyFull = "verify-full"
    }

    /// Host name or IP address; empty when ``unixSocketDirectory`` is set.
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    /// The database; nil is the server's default (the user's name).
    public var database: String?
    public var tls: TLSMode
    /// A PEM file of CA certificates trusted for the server's certificate.
    public var rootCertificatePath: String?
    /// The directory of the server's Unix socket (`host=/var/run/postgresql`).
    public var unixSocketDirectory: String?
    public var connectTimeout: Duration = .seconds(10)
    /// The longest one key or usage operation may take, waiting for a connection included;
    /// past it a key check answers 503 and a usage flush is retried later.
    public var operationTimeout: Duration = .seconds(5)
    /// Most connections one instance opens.
    public var poolSize = 10
    public var applicationName = "switchyard"

    public static let defaultPort = 5432
    static let knownParameters = ["sslmode", "sslrootcert", "connect_timeout", "operation_timeout", "pool_size", "application_name", "host"]

    /// Whether `text` is meant as a PostgreSQL URL (rather than a SQLite path).
    public static func isPostgresURL(_ text: String) -> Bool {
        let lowered = text.lowercased()
        return lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://")
    }

    /// The Unix socket file: `<directory>/.s.PGSQL.<port>`.
    public var unixSocketPath: String? {
        unixSocketDirectory.map { ($0.hasSuffix("/") ? String($0.dropLast()) : $0) + "/.s.PGSQL.\(port)" }
    }

    /// The URL without the password, safe to log.
    public var description: String {
        let location = unixSocketDirectory.map { "[socket \($0)]" } ?? (host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)")
        return "postgres://\(username)@\(location)/\(database ?? "") (sslmode \(tls.rawValue))"
    }

    public init(parsing text: String) throws(PostgresURLError) {
        let lowered = text.lowercased()
        let scheme = ["postgres://", "postgresql://"].first { lowered.hasPrefix($0) }
        guard let scheme else { throw PostgresURLError("a PostgreSQL URL starts with postgres:// or postgresql://") }
        var rest = Substring(text.dropFirst(scheme.count))
        var queryText: Substring = ""
        if let question = rest.firstIndex(of: "?") {
            queryText = rest[rest.index(after: question)...]
            rest = rest[..<question]
        }
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        var authority = rest
        var pathText: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            pathText = rest[rest.index(after: slash)...]
        }

        // user:password@ — the last '@' ends it, so an unencoded '@' in the password still works.
        var hostPort = authority
        var username = ""
        var password: String?
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                username = try Self.decode(userInfo[..<colon], part: "user name")
                password = try Self.decode(userInfo[userInfo.index(after: colon)...], part: "password")
            } else {
                username = try Self.decode(userInfo, part: "user name")
            }
        }
        guard !username.isEmpty else {
            throw PostgresURLError("the URL names no user", hint: "postgres://USER:PASSWORD@HOST:5432/DATABASE")
        }

        var host = ""
        var port = Self.defaultPort
        var portText: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw PostgresURLError("an IPv6 host lacks its closing ']'") }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if after.hasPrefix(":") {
                portText = after.dropFirst()
            } else if !after.isEmpty {
                throw PostgresURLError("unexpected characters after the IPv6 host")
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = try Self.decode(hostPort[..<colon], part: "host")
            portText = hostPort[hostPort.index(after: colon)...]
        } else {
            host = try Self.decode(hostPort, part: "host")
        }
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw PostgresURLError("the port must be a number between 1 and 65535")
            }
            port = value
        }
        let database = try Self.decode(pathText, part: "database name")

        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database.isEmpty ? nil : database
        self.tls = .disable

        var mode: TLSMode?
        for pair in queryText.split(separator: "&", omittingEmptySubsequences: true) {
            let name: String
            let value: String
            if let equals = pair.firstIndex(of: "=") {
                name = try Self.decode(pair[..<equals], part: "parameter name")
                value = try Self.decode(pair[pair.index(after: equals)...], part: "parameter value")
            } else {
                name = try Self.decode(pair, part: "parameter name")
                value = ""
            }
            switch name {
            case "sslmode":
                guard let parsed = TLSMode(rawValue: value.lowercased()) else {
                    throw PostgresURLError(
                        "unsupported sslmode '\(value)'", hint: "use one of: \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                mode = parsed
            case "sslrootcert":
                guard !value.isEmpty else { throw PostgresURLError("sslrootcert is empty", hint: "give the path of a PEM file") }
                rootCertificatePath = value
            case "connect_timeout":
                guard let seconds = Int(value), (1...3600).contains(seconds) else {
                    throw PostgresURLError("connect_timeout must be a number of seconds between 1 and 3600")
                }
                connectTimeout = .seconds(seconds)
            case "operation_timeout":
                guard let seconds = Int(value), (1...3600).contains(seconds) else {
                    throw PostgresURLError("operation_timeout must be a number of seconds between 1 and 3600")
                }
                operationTimeout = .seconds(seconds)
            case "pool_size":
                guard let size = Int(value), (1...1000).contains(size) else {
                    throw PostgresURLError("pool_size must be a number between 1 and 1000")
                }
                poolSize = size
            case "application_name":
                applicationName = value
            case "host":
                guard value.hasPrefix("/") else {
                    throw PostgresURLError("the host parameter must be a Unix socket directory", hint: "for example host=/var/run/postgresql")
                }
                unixSocketDirectory = value
            default:
                throw PostgresURLError(
                    "unknown parameter '\(name)'", hint: "known parameters: \(Self.knownParameters.joined(separator: ", "))")
            }
        }
        guard !host.isEmpty || unixSocketDirectory != nil else {
            throw PostgresURLError("the URL names no host", hint: "postgres://USER:PASSWORD@HOST:5432/DATABASE")
        }
        if unixSocketDirectory != nil { self.host = "" }
        let local = unixSocketDirectory != nil || Self.isLoopback(host)
        self.tls = mode ?? (local ? .disable : .require)
        if unixSocketDirectory != nil, self.tls != .disable {
            throw PostgresURLError("TLS is not used over a Unix socket", hint: "drop sslmode or use sslmode=disable")
        }
        if rootCertificatePath != nil, self.tls == .disable {
            throw PostgresURLError("sslrootcert is set but sslmode is disable", hint: "use sslmode=require or verify-full")
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Percent-decodes one part of the URL.
    static func decode(_ text: Substring, part: String) throws(PostgresURLError) -> String {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard utf8.count >= 2, let high = hexValue(utf8[utf8.startIndex]), let low = hexValue(utf8[utf8.startIndex + 1]) else {
                throw PostgresURLError("the \(part) has a malformed %-escape", hint: "write % itself as %25")
            }
            bytes.append(high << 4 | low)
            utf8 = utf8.dropFirst(2)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw PostgresURLError("the \(part) is not valid UTF-8 once %-decoded")
        }
        return decoded
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Why a PostgreSQL URL was refused; never contains the URL or its password.
public struct PostgresURLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var detail: String
    public var hint: String?

    public init(_ detail: String, hint: String? = nil) {
        self.detail = detail
        self.hint = hint
    }

    public var description: String { detail }
}

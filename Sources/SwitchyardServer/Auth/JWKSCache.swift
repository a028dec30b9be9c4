import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SwitchyardCore

/// An issuer's signing keys: fetched from its `jwks_uri` (given, or found through OpenID
/// Connect discovery) and cached, or fixed keys from the configuration.
///
/// Fetching rules:
/// - keys are cached for the response's `Cache-Control: max-age` bounded by
///   ``Settings/minimumTTL`` and ``Settings/maximumTTL``, else for ``Settings/ttl``;
/// - a token naming an unknown `kid` triggers a refetch at most once per
///   ``Settings/unknownKeyRefetchInterval``, so a stream of made-up `kid`s cannot turn the
///   gateway into a request amplifier against the identity provider;
/// - concurrent callers share one in-flight fetch;
/// - when a refresh fails the previous keys keep being served (for at most
///   ``Settings/maximumStaleness`` past their expiry), and no new attempt is made for
///   ``Settings/failureRetryInterval``;
/// - responses are capped in size and time; only `https` URLs are fetched, except on loopback
///   hosts or with ``Settings/allowInsecureHTTP``; `oct` (secret) keys in a fetched set are ignored.
public actor JWKSCache {
    public enum Source: Sendable, Equatable {
        /// The key set's URL.
        case jwksURI(String)
        /// An OpenID Connect issuer: `<issuer>/.well-known/openid-configuration` is fetched, its
        /// `issuer` must equal this one exactly, and its `jwks_uri` is used.
        case discovery(issuer: String)
    }

    public struct Settings: Sendable {
        /// Cache lifetime when the response has no usable `max-age` (seconds).
        public var ttl: Double = 600
        public var minimumTTL: Double = 60
        public var maximumTTL: Double = 86_400
        /// Least time between two fetches caused by unknown key ids (seconds).
        public var unknownKeyRefetchInterval: Double = 30
        /// After a failed fetch, no new attempt for this long (seconds).
        public var failureRetryInterval: Double = 10
        /// How long past their expiry cached keys are still served while refreshes fail.
        public var maximumStaleness: Double = 86_400
        /// Largest discovery document or key set accepted (bytes).
        public var maximumResponseSize = 1 << 20
        /// Deadline for one HTTP request, response body included (seconds).
        public var timeout: Double = 10
        /// Allows `http` URLs on hosts other than loopback.
        public var allowInsecureHTTP = false

        public init() {}
    }

    enum Mode {
        case fixed(JWKSet)
        case remote(Source, HTTPClient)
    }

    struct Fetched: Sendable {
        var keys: JWKSet
        var lifetime: Double
        /// The key set URL found by discovery (kept so a refresh skips discovery).
        var discoveredURI: String?
    }

    struct FetchError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    let mode: Mode
    public let settings: Settings
    let logger: Logger
    let now: @Sendable () -> Double

    private var cached: JWKSet?
    private var expiresAt = -Double.infinity
    private var lastAttempt = -Double.infinity
    private var retryNotBefore = -Double.infinity
    private var discoveredURI: String?
    private var inFlight: Task<Fetched, any Error>?
    /// Fetch attempts so far (a discovery plus a key set fetch count as one).
    public private(set) var fetchCount = 0

    /// Fixed keys (an inline JWKS, a PEM public key, a shared secret): nothing is fetched.
    public init(keys: JWKSet) {
        self.mode = .fixed(keys)
        self.settings = Settings()
        self.logger = Logger(label: "switchyard.jwt")
        self.now = { Date().timeIntervalSince1970 }
    }

    /// Keys fetched from `source` with `httpClient` (the caller owns and shuts down the client).
    public init(
        source: Source,
        httpClient: HTTPClient,
        settings: Settings = Settings(),
        logger: Logger = Logger(label: "switchyard.jwt"),
        now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }
    ) throws(JWTConfigurationError) {
        switch source {
        case .jwksURI(let uri):
            guard Self.isAcceptableURL(uri, settings: settings) else {
                throw JWTConfigurationError("jwks_uri must be an https URL (http only on loopback or when explicitly allowed)")
            }
        case .discovery(let issuer):
            guard Self.isAcceptableURL(issuer, settings: settings) else {
                throw JWTConfigurationError("the issuer must be an https URL for discovery (http only on loopback or when explicitly allowed)")
            }
        }
        self.mode = .remote(source, httpClient)
        self.settings = settings
        self.logger = logger
        self.now = now
    }

    /// Whether keys are fetched (and so whether an unknown `kid` may be worth a refetch).
    public nonisolated var isRemote: Bool {
        if case .remote = mode { return true }
        return false
    }

    /// The current keys: cached ones while fresh, else freshly fetched (waiting for a fetch in
    /// progress rather than starting another). When fetching fails, stale keys are served if
    /// there are any within ``Settings/maximumStaleness``.
    public func keys() async throws(JWTError) -> JWKSet {
        if case .fixed(let keys) = mode { return keys }
        if let cached, now() < expiresAt { return cached }
        if inFlight == nil, now() < retryNotBefore {
            if let stale = staleKeys() { return stale }
            throw .keysUnavailable
        }
        do {
            return try await refresh()
        } catch {
            if let stale = staleKeys() { return stale }
            throw .keysUnavailable
        }
    }

    /// A refetch because a token named a key id the cached set lacks: joins a fetch in progress,
    /// else fetches unless the last fetch started less than
    /// ``Settings/unknownKeyRefetchInterval`` ago. nil when no fetch was made or it failed.
    public func refreshForUnknownKey() async -> JWKSet? {
        guard case .remote = mode else { return nil }
        if inFlight == nil, now() < lastAttempt + settings.unknownKeyRefetchInterval { return nil }
        return try? await refresh()
    }

    private func staleKeys() -> JWKSet? {
        guard let cached, now() < expiresAt + settings.maximumStaleness else { return nil }
        return cached
    }

    /// Fetches the key set, or waits for the fetch already under way.
    private func refresh() async throws -> JWKSet {
        if let inFlight { return try await inFlight.value.keys }
        guard case .remote(let source, let client) = mode else { throw FetchError("fixed keys") }
        fetchCount += 1
        lastAttempt = now()
        let settings = self.settings
        let discovered = discoveredURI
        let task = Task {
            try await Self.download(source: source, client: client, discoveredURI: discovered, settings: settings)
        }
        inFlight = task
        let result = await task.result
        inFlight = nil
        switch result {
        case .success(let fetched):
            cached = fetched.keys
            expiresAt = now() + fetched.lifetime
            discoveredURI = fetched.discoveredURI
            retryNotBefore = -.infinity
            if !fetched.keys.skipped.isEmpty {
                logger.debug(
                    "JWKS keys skipped",
                    metadata: ["source": .string(Self.describe(source)), "skipped": .string(fetched.keys.skipped.joined(separator: "; "))])
            }
            return fetched.keys
        case .failure(let error):
            retryNotBefore = now() + settings.failureRetryInterval
            // Discover again next time: the provider may have moved its key set.
            discoveredURI = nil
            logger.warning(
                "JWKS fetch failed",
                metadata: [
                    "source": .string(Self.describe(source)), "error": .string("\(error)"),
                    "serving_stale": .stringConvertible(staleKeys() != nil),
                ])
            throw error
        }
    }

    // MARK: HTTP

    static func download(source: Source, client: HTTPClient, discoveredURI: String?, settings: Settings) async throws -> Fetched {
        let jwksURI: String
        var discovered: String?
        switch source {
        case .jwksURI(let uri):
            jwksURI = uri
        case .discovery(let issuer):
            if let discoveredURI {
                jwksURI = discoveredURI
            } else {
                let base = issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer
                let (body, _) = try await get(base + "/.well-known/openid-configuration", client: client, settings: settings)
                guard let document = try? JSONValue.parse(body), document.objectValue != nil else {
                    throw FetchError("the discovery document is not a JSON object")
                }
                // OpenID Connect Discovery §4.3: the document's issuer must be the one asked for.
                guard document["issuer"]?.stringValue == issuer else { throw FetchError("the discovery document names another issuer") }
                guard let uri = document["jwks_uri"]?.stringValue else { throw FetchError("the discovery document has no jwks_uri") }
                guard isAcceptableURL(uri, settings: settings) else { throw FetchError("the discovered jwks_uri is not an acceptable URL") }
                jwksURI = uri
            }
            discovered = jwksURI
        }
        let (body, headers) = try await get(jwksURI, client: client, settings: settings)
        let keys: JWKSet
        do throws(JWKError) {
            keys = try JWKSet.parse(body, allowSymmetric: false)
        } catch {
            throw FetchError(error.description)
        }
        guard !keys.keys.isEmpty else { throw FetchError("the key set holds no usable keys") }
        let lifetime = min(max(maxAge(headers) ?? settings.ttl, settings.minimumTTL), settings.maximumTTL)
        return Fetched(keys: keys, lifetime: lifetime, discoveredURI: discovered)
    }

    static func get(_ url: String, client: HTTPClient, settings: Settings) async throws -> ([UInt8], HTTPHeaders) {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.headers.add(name: "Accept", value: "application/json")
        let response = try await client.execute(request, timeout: .milliseconds(Int64(settings.timeout * 1000)))
        guard response.status == .ok else {
            throw FetchError("HTTP \(response.status.code) from \(describe(url))")
        }
        if let length = response.headers.first(name: "content-length").flatMap(Int.init), length > settings.maximumResponseSize {
            throw FetchError("response larger than \(settings.maximumResponseSize) bytes")
        }
        do {
            let body = try await response.body.collect(upTo: settings.maximumResponseSize)
            return (Array(buffer: body), response.headers)
        } catch is NIOTooManyBytesError {
            throw FetchError("response larger than \(settings.maximumResponseSize) bytes")
        }
    }

    /// `max-age` from `Cache-Control` (0 for `no-store` / `no-cache`); nil when absent.
    static func maxAge(_ headers: HTTPHeaders) -> Double? {
        var result: Double?
        for value in headers["cache-control"] {
            for directive in value.split(separator: ",") {
                let directive = directive.trimmingCharacters(in: .whitespaces).lowercased()
                if directive == "no-store" || directive == "no-cache" { return 0 }
                if directive.hasPrefix("max-age="), result == nil,
                    let seconds = Int(directive.dropFirst("max-age=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
                {
                    result = Double(max(seconds, 0))
                }
            }
        }
        return result
    }

    static func isAcceptableURL(_ string: String, settings: Settings) -> Bool {
        guard let url = URL(string: string), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else {
            return false
        }
        if scheme == "https" { return true }
        guard scheme == "http" else { return false }
        return settings.allowInsecureHTTP || ["127.0.0.1", "::1", "[::1]", "localhost"].contains(host.lowercased())
    }

    /// A URL for logs: scheme, host and path only (no query string, which could carry secrets).
    static func describe(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "<invalid URL>" }
        components.query = nil
        components.fragment = nil
        components.user = nil
        components.password = nil
        return components.string ?? "<invalid URL>"
    }

    static func describe(_ source: Source) -> String {
        switch source {
        case .jwksURI(let uri): describe(uri)
        case .discovery(let issuer): "discovery at " + describe(issuer)
        }
    }
}

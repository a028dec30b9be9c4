import Foundation

/// Turns a ``ConfigNode`` tree into a validated ``GatewayConfig``, collecting every problem.
///
/// It never stops at the first error: the operator gets the whole list, each with its
/// location and a hint, from `switchyard check-config` and at start-up.
public struct ConfigLoader: Sendable {
    public var environment: [String: String]
    /// Tells whether a file exists (injected so validation stays free of file-system I/O in tests).
    public var fileExists: @Sendable (String) -> Bool

    public init(environment: [String: String], fileExists: @escaping @Sendable (String) -> Bool) {
        self.environment = environment
        self.fileExists = fileExists
    }

    /// The result of loading: a config when there were no errors, plus all diagnostics.
    public struct Outcome: Sendable {
        public var config: GatewayConfig?
        public var diagnostics: [ConfigDiagnostic]
        public var errors: [ConfigDiagnostic] { diagnostics.filter { $0.severity == .error } }
        public var warnings: [ConfigDiagnostic] { diagnostics.filter { $0.severity == .warning } }
    }

    public func load(_ root: ConfigNode, source: String) -> Outcome {
        var context = Context(environment: environment, fileExists: fileExists)
        let config = context.decodeRoot(root, source: source)
        if context.diagnostics.contains(where: { $0.severity == .error }) {
            return Outcome(config: nil, diagnostics: context.diagnostics)
        }
        return Outcome(config: config, diagnostics: context.diagnostics)
    }

    /// Loads or throws ``ConfigError`` listing every error.
    public func loadOrThrow(_ root: ConfigNode, source: String) throws(ConfigError) -> (GatewayConfig, warnings: [ConfigDiagnostic]) {
        let outcome = load(root, source: source)
        guard let config = outcome.config else { throw ConfigError(diagnostics: outcome.errors) }
        return (config, outcome.warnings)
    }

    /// The configuration used when no file is given: the built-in mock provider's models, plus a
    /// provider (with its common models and an `<type>/*` pattern) for each well-known API key
    /// found in the environment.
    public func embeddedDefault() -> GatewayConfig {
        var config = GatewayConfig(source: "embedded default")
        var mock = ProviderConfig(name: "mock", type: ProviderPresets.mock, adapter: ProviderPresets.mock, baseURL: "mock://local")
        mock.options = [:]
        config.providers.append(mock)
        config.models.append(ModelConfig(name: "mock-gpt", provider: "mock", upstreamModel: "mock-gpt", aliases: ["mock"]))
        config.models.append(ModelConfig(name: "mock-embedding", provider: "mock", upstreamModel: "mock-embedding"))
        config.models.append(ModelConfig(name: "mock/*", provider: "mock"))
        for (variable, type) in ProviderPresets.wellKnownKeys {
            guard let key = environment[variable], !key.isEmpty else { continue }
            var provider: ProviderConfig
            if type == ProviderPresets.cohere {
                provider = ProviderConfig(name: type, type: type, adapter: type, baseURL: ProviderPresets.cohereBaseURL)
            } else if type == ProviderPresets.anthropic || type == ProviderPresets.gemini {
                let isGemini = type == ProviderPresets.gemini
                provider = ProviderConfig(
                    name: type, type: type, adapter: type,
                    baseURL: isGemini ? ProviderPresets.geminiBaseURL : ProviderPresets.anthropicBaseURL
                )
                provider.authHeader = isGemini ? "x-goog-api-key" : "x-api-key"
                provider.authScheme = ""
            } else {
                guard let baseURL = ProviderPresets.openAICompatiblePresets[type] ?? nil else { continue }
                provider = ProviderConfig(name: type, type: type, adapter: ProviderPresets.openAICompatible, baseURL: baseURL)
            }
            provider.apiKey = Secret(key, source: "env:\(variable)")
            config.providers.append(provider)
            if type == ProviderPresets.cohere {
                for model in ["command-a-03-2025", "embed-v4.0"] {
                    config.models.append(ModelConfig(name: model, provider: type, upstreamModel: model))
                }
            }
            if type == ProviderPresets.gemini {
                for model in ["gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite"] {
                    config.models.append(ModelConfig(name: model, provider: type, upstreamModel: model))
                }
            }
            if type == ProviderPresets.anthropic {
                for model in ["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"] {
                    config.models.append(ModelConfig(name: model, provider: type, upstreamModel: model))
                }
            }
            if type == "openai" {
                for model in [
                    "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o3", "o3-mini", "o4-mini",
                    "text-embedding-3-small", "text-embedding-3-large", "gpt-3.5-turbo-instruct",
                ] {
                    config.models.append(ModelConfig(name: model, provider: type, upstreamModel: model))
                }
            }
            config.models.append(ModelConfig(name: "\(type)/*", provider: type))
        }
        if let key = environment["SWITCHYARD_MASTER_KEY"], !key.isEmpty {
            config.server.masterKey = Secret(key, source: "env:SWITCHYARD_MASTER_KEY")
        }
        return config
    }
}

// MARK: - Decoding

struct Context {
    let environment: [String: String]
    let fileExists: @Sendable (String) -> Bool
    var diagnostics: [ConfigDiagnostic] = []

    mutating func error(_ message: String, at location: ConfigLocation?, hint: String? = nil) {
        diagnostics.append(ConfigDiagnostic(.error, message, at: location, hint: hint))
    }

    mutating func warning(_ message: String, at location: ConfigLocation?, hint: String? = nil) {
        diagnostics.append(ConfigDiagnostic(.warning, message, at: location, hint: hint))
    }

    // MARK: Root

    mutating func decodeRoot(_ root: ConfigNode, source: String) -> GatewayConfig {
        var config = GatewayConfig(source: source)
        if case .null = root { return config }
        guard var mapping = MappingReader(root, path: "", context: &self) else { return config }
        if let server = mapping.take("server") { config.server = decodeServer(server) }
        if let providers = mapping.take("providers") {
            config.providers = sequence(providers, path: "providers").compactMap { decodeProvider($0.node, path: $0.path) }
        }
        if let models = mapping.take("models") {
            config.models = sequence(models, path: "models").compactMap { decodeModel($0.node, path: $0.path) }
        }
        if let router = mapping.take("router") { config.router = decodeRouter(router) }
        if let rules = mapping.take("routing_rules") {
            config.routingRules = sequence(rules, path: "routing_rules").compactMap { decodeRule($0.node, path: $0.path) }
        }
        if let redis = mapping.take("redis") { config.redis = decodeRedis(redis) }
        if let limits = mapping.take("limits") { config.limits = decodeLimits(limits) }
        if let budgets = mapping.take("budgets") { config.budgets = decodeBudgets(budgets) }
        if let pricing = mapping.take("pricing") { config.pricing = decodePricing(pricing) }
        if let auth = mapping.take("auth") { config.auth = decodeAuth(auth) }
        if let access = mapping.take("access") { config.access = decodeAccess(access) }
        if let cache = mapping.take("cache") { config.cache = decodeCache(cache) }
        if let guardrails = mapping.take("guardrails") { config.guardrails = decodeGuardrails(guardrails) }
        if let prompts = mapping.take("prompts") { config.prompts = decodePrompts(prompts) }
        if let logging = mapping.take("logging") { config.logging = decodeLogging(logging) }
        config.tracing = tracingFromEnvironment()
        if let tracing = mapping.take("tracing") { config.tracing = decodeTracing(tracing, defaults: config.tracing) }
        if let passthrough = mapping.take("passthrough") { config.passthrough = decodePassthrough(passthrough, providers: config.providers) }
        if let mcp = mapping.take("mcp") { config.mcp = decodeMCP(mcp) }
        if let files = mapping.take("files") { config.files = decodeFiles(files) }
        if let batches = mapping.take("batches") { config.batches = decodeBatches(batches) }
        mapping.finish(
            known: [
                "server", "providers", "models", "router", "routing_rules", "redis", "limits", "budgets", "pricing", "auth", "access", "cache",
                "guardrails", "prompts", "logging", "tracing", "passthrough", "mcp", "files", "batches",
            ],
            context: &self)
        let modelNames = Set(config.models.flatMap { [$0.name] + $0.aliases })
        for template in config.prompts.templates {
            if let target = template.model, !modelNames.contains(target), !modelNames.contains(String(target.split(separator: "@").first ?? "")) {
                error(
                    "template '\(template.name)': model '\(target)' is not a configured model", at: template.location ?? root.location,
                    hint: Suggestions.closest(to: target, in: Array(modelNames)).map { "did you mean '\($0)'?" })
            }
        }
        for rule in config.guardrails.rules {
            if let target = rule.classifier?.model, !modelNames.contains(target) {
                error(
                    "guardrail '\(rule.name)': classifier model '\(target)' is not a configured model", at: rule.location ?? root.location,
                    hint: Suggestions.closest(to: target, in: Array(modelNames)).map { "did you mean '\($0)'?" })
            }
            if let target = rule.routeTo, !modelNames.contains(target), !modelNames.contains(String(target.split(separator: "@").first ?? "")) {
                error(
                    "guardrail '\(rule.name)': route_to '\(target)' is not a configured model", at: rule.location ?? root.location,
                    hint: Suggestions.closest(to: target, in: Array(modelNames)).map { "did you mean '\($0)'?" })
            }
        }
        if config.cache.backend == .redis, config.redis == nil {
            error("cache.backend is redis but no 'redis:' section is configured", at: root.location, hint: "add redis: {url: redis://...}")
        }
        if config.limits.backend == .redis, config.redis == nil {
            error("limits.backend is redis but no 'redis:' section is configured", at: root.location, hint: "add redis: {url: redis://...}")
        }
        crossCheck(&config)
        crossCheckRouting(config)
        return config
    }

    // MARK: Server

    mutating func decodeServer(_ node: ConfigNode) -> ServerSettings {
        var settings = ServerSettings()
        guard var mapping = MappingReader(node, path: "server", context: &self) else { return settings }
        if let host = mapping.take("host"), let value = string(host, path: "server.host") {
            if value.isEmpty {
                error("server.host must not be empty", at: host.location, hint: "use 127.0.0.1 for local use or 0.0.0.0 to listen on all interfaces")
            }
            settings.host = value
        }
        if let port = mapping.take("port"), let value = integer(port, path: "server.port") {
            if !(0...65535).contains(value) {
                error("server.port \(value) is out of range", at: port.location, hint: "use a port between 1 and 65535 (0 picks a free one)")
            }
            settings.port = value
        }
        if let key = mapping.take("master_key") {
            settings.masterKey = secret(key, path: "server.master_key")
        }
        if let limit = mapping.take("max_body_size"), let value = byteSize(limit, path: "server.max_body_size") {
            if value < 1024 { error("server.max_body_size must be at least 1KiB", at: limit.location, hint: "for example 16MiB") }
            settings.maxBodyBytes = value
        }
        if let node = mapping.take("request_timeout"), let value = duration(node, path: "server.request_timeout") {
            settings.requestTimeout = value
        }
        if let node = mapping.take("shutdown_grace_period"), let value = duration(node, path: "server.shutdown_grace_period") {
            settings.shutdownGracePeriod = value
        }
        if let node = mapping.take("idle_timeout"), let value = duration(node, path: "server.idle_timeout") {
            settings.idleTimeout = value
        }
        if let node = mapping.take("log_level"), let value = string(node, path: "server.log_level") {
            let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
            if levels.contains(value.lowercased()) {
                settings.logLevel = value.lowercased()
            } else {
                error("unknown log level '\(value)'", at: node.location, hint: "use one of: \(levels.joined(separator: ", "))")
            }
        }
        if let node = mapping.take("access_log"), let value = bool(node, path: "server.access_log") {
            settings.accessLog = value
        }
        if let node = mapping.take("allow_unauthenticated"), let value = bool(node, path: "server.allow_unauthenticated") {
            settings.allowUnauthenticated = value
        }
        if let node = mapping.take("reload_check_interval") {
            if case .scalar(let text, _, _) = node, ["off", "false", "0", "never"].contains(text.lowercased()) {
                settings.reloadCheckInterval = nil
            } else if let value = duration(node, path: "server.reload_check_interval") {
                settings.reloadCheckInterval = value
            }
        }
        if let node = mapping.take("tls") {
            settings.tls = decodeTLS(node)
        }
        if let node = mapping.take("database") { decodeDatabase(node, into: &settings) }
        if let node = mapping.take("key_secret") { settings.keySecret = secret(node, path: "server.key_secret") }
        if let node = mapping.take("usage_ledger"), let value = bool(node, path: "server.usage_ledger") { settings.usageLedger = value }
        if let node = mapping.take("metrics_identity_labels"), let value = bool(node, path: "server.metrics_identity_labels") {
            settings.metricsIdentityLabels = value
        }
        if let node = mapping.take("operational_token") { settings.operationalToken = secret(node, path: "server.operational_token") }
        if let node = mapping.take("endpoints") { settings.endpointMaxBodyBytes = decodeEndpointLimits(node) }
        mapping.finish(
            known: [
                "host", "port", "master_key", "max_body_size", "request_timeout", "shutdown_grace_period", "idle_timeout",
                "log_level", "access_log", "allow_unauthenticated", "reload_check_interval", "tls", "database", "key_secret", "usage_ledger",
                "metrics_identity_labels", "operational_token", "endpoints",
            ],
            context: &self
        )
        if settings.databaseURL != nil, settings.keySecret == nil {
            error(
                "server.key_secret is required when server.database is a PostgreSQL URL",
                at: node.location,
                hint:
                    "every instance must hash virtual keys under the same secret: set server.key_secret: env:SWITCHYARD_KEY_SECRET (e.g. from `openssl rand -hex 32`) on all of them"
            )
        }
        if settings.masterKey == nil, !settings.allowUnauthenticated, !Self.isLoopback(settings.host) {
            error(
                "server.host '\(settings.host)' is reachable from other machines but no master key is set",
                at: node.location,
                hint:
                    "set server.master_key (e.g. env:SWITCHYARD_MASTER_KEY), or set server.allow_unauthenticated: true if another layer authenticates"
            )
        }
        return settings
    }

    /// `server.database`: a SQLite path, or a `postgres://` URL (a secret, so `env:DATABASE_URL` works).
    mutating func decodeDatabase(_ node: ConfigNode, into settings: inout ServerSettings) {
        guard let text = string(node, path: "server.database") else { return }
        let reference = SecretReference(parsing: text)
        let value: Secret
        if case .literal = reference {
            value = Secret(text, source: "inline")
        } else {
            guard let resolved = secret(node, path: "server.database") else { return }
            value = resolved
        }
        guard PostgresURL.isPostgresURL(value.reveal()) else {
            if value.reveal().isEmpty {
                error("server.database is empty", at: node.location, hint: "give a SQLite file path or a postgres:// URL")
            }
            settings.databasePath = value.reveal()
            return
        }
        do {
            _ = try PostgresURL(parsing: value.reveal())
            settings.databaseURL = value
        } catch {
            self.error(
                "server.database is not a usable PostgreSQL URL (\(value.source)): \(error.detail)", at: node.location,
                hint: error.hint ?? "postgres://USER:PASSWORD@HOST:5432/DATABASE?sslmode=require")
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    mutating func decodeTLS(_ node: ConfigNode) -> TLSSettings? {
        guard var mapping = MappingReader(node, path: "server.tls", context: &self) else { return nil }
        let certificate = mapping.take("certificate").flatMap { string($0, path: "server.tls.certificate") }
        let key = mapping.take("private_key").flatMap { string($0, path: "server.tls.private_key") }
        mapping.finish(known: ["certificate", "private_key"], context: &self)
        guard let certificate, let key else {
            error("server.tls needs both 'certificate' and 'private_key'", at: node.location, hint: "give the paths of PEM files")
            return nil
        }
        for (path, field) in [(certificate, "certificate"), (key, "private_key")] where !fileExists(path) {
            error(
                "server.tls.\(field): file '\(path)' does not exist", at: node.location, hint: "give the path of a PEM file readable by the gateway")
        }
        return TLSSettings(certificatePath: certificate, privateKeyPath: key)
    }

    // MARK: Providers

    mutating func decodeProvider(_ node: ConfigNode, path: String) -> ProviderConfig? {
        guard var mapping = MappingReader(node, path: path, context: &self) else { return nil }
        let name = mapping.take("name").flatMap { string($0, path: "\(path).name") }
        let typeNode = mapping.take("type")
        let type = typeNode.flatMap { string($0, path: "\(path).type") }
        let baseURLNode = mapping.take("base_url")
        var baseURL = baseURLNode.flatMap { string($0, path: "\(path).base_url") }
        let apiKeyNode = mapping.take("api_key")
        let apiKey = apiKeyNode.flatMap { secret($0, path: "\(path).api_key") }
        let authHeader = mapping.take("auth_header").flatMap { string($0, path: "\(path).auth_header") }
        let authScheme = mapping.take("auth_scheme").flatMap { string($0, path: "\(path).auth_scheme") }
        let awsAccessKeyID = mapping.take("aws_access_key_id").flatMap { secret($0, path: "\(path).aws_access_key_id") }
        let awsSecretAccessKey = mapping.take("aws_secret_access_key").flatMap { secret($0, path: "\(path).aws_secret_access_key") }
        let awsSessionToken = mapping.take("aws_session_token").flatMap { secret($0, path: "\(path).aws_session_token") }
        let credentialsFileNode = mapping.take("credentials_file")
        let credentialsFile = credentialsFileNode.flatMap { string($0, path: "\(path).credentials_file") }
        let tokenURLNode = mapping.take("token_url")
        let tokenURL = tokenURLNode.flatMap { string($0, path: "\(path).token_url") }
        var headers: [(name: String, value: Secret)] = []
        if let headersNode = mapping.take("headers") {
            if var headerMap = MappingReader(headersNode, path: "\(path).headers", context: &self) {
                for entry in headerMap.remaining() {
                    if let value = secret(entry.value, path: "\(path).headers.\(entry.key)") {
                        headers.append((entry.key, value))
                    }
                }
                headerMap.finishAll()
            }
        }
        var provider = ProviderConfig(name: name ?? "", type: type ?? "", adapter: "", baseURL: "")
        provider.location = node.location
        if let timeouts = mapping.take("timeouts"), var timeoutMap = MappingReader(timeouts, path: "\(path).timeouts", context: &self) {
            if let value = timeoutMap.take("connect").flatMap({ duration($0, path: "\(path).timeouts.connect") }) {
                provider.connectTimeout = value
            }
            if let value = timeoutMap.take("read").flatMap({ duration($0, path: "\(path).timeouts.read") }) {
                provider.readTimeout = value
            }
            timeoutMap.finish(known: ["connect", "read"], context: &self)
        }
        if let pool = mapping.take("max_connections"), let value = integer(pool, path: "\(path).max_connections") {
            if value < 1 || value > 100_000 {
                error("\(path).max_connections must be between 1 and 100000", at: pool.location, hint: "the default is 512")
            }
            provider.maxConnections = value
        }
        var requestIDHeader: String?? = .none
        if let node = mapping.take("request_id_header"), let value = string(node, path: "\(path).request_id_header") {
            let trimmed = value.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.lowercased() == "none" {
                requestIDHeader = .some(nil)
            } else if trimmed.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }) {
                requestIDHeader = .some(trimmed)
            } else {
                error(
                    "\(path).request_id_header is not a valid header name", at: node.location,
                    hint: "a token such as X-Client-Request-Id, or none")
            }
        }
        if let optionsNode = mapping.take("options"), var optionMap = MappingReader(optionsNode, path: "\(path).options", context: &self) {
            for entry in optionMap.remaining() {
                if let value = string(entry.value, path: "\(path).options.\(entry.key)") { provider.options[entry.key] = value }
            }
            optionMap.finishAll()
        }
        mapping.finish(
            known: [
                "name", "type", "base_url", "api_key", "auth_header", "auth_scheme", "headers", "timeouts", "max_connections", "options",
                "request_id_header",
                "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "credentials_file", "token_url",
            ],
            context: &self
        )

        guard let name, !name.isEmpty else {
            error("\(path) has no 'name'", at: node.location, hint: "give every provider a unique name, e.g. name: openai")
            return nil
        }
        guard let type else {
            error("provider '\(name)' has no 'type'", at: node.location, hint: "one of: \(ProviderPresets.knownTypes.joined(separator: ", "))")
            return nil
        }
        if type == ProviderPresets.mock {
            provider.adapter = ProviderPresets.mock
            provider.baseURL = baseURL ?? "mock://local"
        } else if type == ProviderPresets.cohere {
            provider.adapter = ProviderPresets.cohere
            let url = baseURL ?? ProviderPresets.cohereBaseURL
            provider.baseURL = url.hasSuffix("/") ? String(url.dropLast()) : url
        } else if type == ProviderPresets.bedrock {
            provider.adapter = ProviderPresets.bedrock
            guard let region = provider.options["region"] ?? environment["AWS_REGION"], !region.isEmpty else {
                error(
                    "provider '\(name)' of type bedrock needs a region", at: node.location, hint: "set options.region (e.g. us-east-1) or AWS_REGION")
                return nil
            }
            provider.options["region"] = region
            let url = baseURL ?? "https://bedrock-runtime.\(region).amazonaws.com"
            provider.baseURL = url.hasSuffix("/") ? String(url.dropLast()) : url
            if apiKey == nil && (awsAccessKeyID == nil) != (awsSecretAccessKey == nil) {
                error(
                    "provider '\(name)' of type bedrock has only half of a static key",
                    at: node.location,
                    hint:
                        "set both aws_access_key_id and aws_secret_access_key, or neither to use the AWS default credential chain (environment, shared files, web identity, container, instance metadata)"
                )
            } else if apiKey == nil && awsAccessKeyID == nil {
                provider.credentialEnvironment = CredentialEnvironment(environment)
            }
        } else if type == ProviderPresets.vertex {
            provider.adapter = ProviderPresets.vertex
            let project = provider.options["project"] ?? ""
            let location = provider.options["location"] ?? ""
            if project.isEmpty {
                error(
                    "provider '\(name)' of type vertex needs a project", at: node.location, hint: "set options.project to the Google Cloud project ID"
                )
            }
            if location.isEmpty {
                error(
                    "provider '\(name)' of type vertex needs a location", at: node.location,
                    hint: "set options.location (e.g. us-central1, europe-west4 or global)")
            }
            let host = location == "global" || location.isEmpty ? "aiplatform.googleapis.com" : "\(location)-aiplatform.googleapis.com"
            let url = baseURL ?? "https://\(host)"
            if !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
                error(
                    "provider '\(name)': base_url '\(url)' is not an http(s) URL", at: baseURLNode?.location ?? node.location,
                    hint: "for example https://us-central1-aiplatform.googleapis.com")
            }
            provider.baseURL = url.hasSuffix("/") ? String(url.dropLast()) : url
            let token = tokenURL ?? ProviderPresets.vertexTokenURL
            if !(token.hasPrefix("http://") || token.hasPrefix("https://")) {
                error(
                    "provider '\(name)': token_url '\(token)' is not an http(s) URL", at: tokenURLNode?.location ?? node.location,
                    hint: "the default is \(ProviderPresets.vertexTokenURL)")
            }
            provider.options["token_url"] = token
            if let credentialsFile {
                provider.serviceAccount = serviceAccountKey(
                    file: credentialsFile, provider: name, at: credentialsFileNode?.location ?? node.location)
            } else if apiKey == nil {
                provider.credentialEnvironment = CredentialEnvironment(environment)
            }
        } else if type == ProviderPresets.azure {
            provider.adapter = ProviderPresets.azure
            provider.authHeader = "api-key"
            provider.authScheme = ""
            guard let url = baseURL, url.hasPrefix("http://") || url.hasPrefix("https://") else {
                error(
                    "provider '\(name)' of type azure needs the resource endpoint as base_url",
                    at: baseURLNode?.location ?? node.location,
                    hint: "for example base_url: https://my-resource.openai.azure.com"
                )
                return nil
            }
            provider.baseURL = url.hasSuffix("/") ? String(url.dropLast()) : url
        } else if type == ProviderPresets.anthropic || type == ProviderPresets.gemini {
            let isGemini = type == ProviderPresets.gemini
            provider.adapter = type
            provider.authHeader = isGemini ? "x-goog-api-key" : "x-api-key"
            provider.authScheme = ""
            let url = baseURL ?? (isGemini ? ProviderPresets.geminiBaseURL : ProviderPresets.anthropicBaseURL)
            if !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
                error(
                    "provider '\(name)': base_url '\(url)' is not an http(s) URL", at: baseURLNode?.location ?? node.location,
                    hint: "for example https://api.anthropic.com")
            }
            provider.baseURL = url.hasSuffix("/") ? String(url.dropLast()) : url
        } else if let preset = ProviderPresets.openAICompatiblePresets[type] {
            provider.adapter = ProviderPresets.openAICompatible
            if baseURL == nil { baseURL = preset }
            guard let baseURL else {
                error(
                    "provider '\(name)' of type \(type) needs a base_url", at: node.location, hint: "for example base_url: http://127.0.0.1:8000/v1")
                return nil
            }
            if !(baseURL.hasPrefix("http://") || baseURL.hasPrefix("https://")) || baseURL.count < 10 {
                error(
                    "provider '\(name)': base_url '\(baseURL)' is not an http(s) URL",
                    at: baseURLNode?.location ?? node.location,
                    hint: "for example https://api.openai.com/v1"
                )
            }
            provider.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        } else {
            let suggestion = Suggestions.closest(to: type, in: ProviderPresets.knownTypes)
            error(
                "provider '\(name)' has unknown type '\(type)'",
                at: typeNode?.location,
                hint: suggestion.map { "did you mean '\($0)'?" } ?? "one of: \(ProviderPresets.knownTypes.joined(separator: ", "))"
            )
            return nil
        }
        provider.apiKey = apiKey
        provider.headers = headers
        switch requestIDHeader {
        case .some(let configured): provider.requestIDHeader = configured
        case .none: provider.requestIDHeader = type == "openai" ? "X-Client-Request-Id" : nil
        }
        provider.awsAccessKeyID = awsAccessKeyID
        provider.awsSecretAccessKey = awsSecretAccessKey
        provider.awsSessionToken = awsSessionToken
        if let authHeader { provider.authHeader = authHeader }
        if let authScheme { provider.authScheme = authScheme }
        if let apiKeyNode, case .scalar(let text, _, _) = apiKeyNode, case .literal = SecretReference(parsing: text) {
            warning(
                "provider '\(name)' has its API key written in the file",
                at: apiKeyNode.location,
                hint: "use env:NAME or ${NAME} so the key stays out of the file and of git"
            )
        }
        return provider
    }

    /// Reads and checks a service-account JSON key; errors name the file, never its contents.
    mutating func serviceAccountKey(file: String, provider: String, at location: ConfigLocation?) -> ServiceAccountKey? {
        guard let data = FileManager.default.contents(atPath: file) else {
            error(
                "provider '\(provider)': cannot read credentials_file '\(file)'", at: location,
                hint: "give the path of a service-account JSON key readable by the gateway")
            return nil
        }
        guard let json = try? JSONValue.parse(Array(data)), let key = ServiceAccountKey(json: json, source: "file:\(file)") else {
            error(
                "provider '\(provider)': credentials_file '\(file)' is not a service-account JSON key", at: location,
                hint: "it needs type: service_account, client_email and a PEM private_key (create one with gcloud iam service-accounts keys create)")
            return nil
        }
        return key
    }

    // MARK: Models

    mutating func crossCheck(_ config: inout GatewayConfig) {
        var providerNames: Set<String> = []
        for provider in config.providers {
            if !providerNames.insert(provider.name).inserted {
                error("provider name '\(provider.name)' is used twice", at: provider.location, hint: "give each provider a unique name")
            }
        }
    }

    // MARK: Scalars

    mutating func string(_ node: ConfigNode, path: String) -> String? {
        guard case .scalar(let value, _, _) = node else {
            error("\(path) must be a string, not \(node.kindName)", at: node.location)
            return nil
        }
        return value
    }

    mutating func number(_ node: ConfigNode, path: String) -> Double? {
        guard case .scalar(let value, _, _) = node, let number = Double(value.replacingUnderscores()), number.isFinite else {
            error("\(path) must be a number", at: node.location, hint: "for example 0.5")
            return nil
        }
        return number
    }

    mutating func integer(_ node: ConfigNode, path: String) -> Int? {
        guard case .scalar(let value, _, _) = node, let number = Int(value.replacingUnderscores()) else {
            error("\(path) must be an integer", at: node.location, hint: "for example 8080")
            return nil
        }
        return number
    }

    mutating func bool(_ node: ConfigNode, path: String) -> Bool? {
        guard case .scalar(let value, _, _) = node else {
            error("\(path) must be true or false", at: node.location)
            return nil
        }
        switch value.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            error("\(path) must be true or false, not '\(value)'", at: node.location)
            return nil
        }
    }

    mutating func duration(_ node: ConfigNode, path: String) -> Duration? {
        guard case .scalar(let value, _, _) = node, let parsed = ConfigUnits.parseDuration(value), parsed > .zero else {
            error("\(path) must be a positive duration", at: node.location, hint: "for example 30s, 250ms, 5m or 1h")
            return nil
        }
        return parsed
    }

    mutating func byteSize(_ node: ConfigNode, path: String) -> Int? {
        guard case .scalar(let value, _, _) = node, let parsed = ConfigUnits.parseByteSize(value) else {
            error("\(path) must be a size", at: node.location, hint: "for example 16MiB, 512KiB or a number of bytes")
            return nil
        }
        return parsed
    }

    mutating func secret(_ node: ConfigNode, path: String) -> Secret? {
        guard let text = string(node, path: path) else { return nil }
        let reference = SecretReference(parsing: text)
        guard let resolved = reference.resolve(in: environment) else {
            if case .environment(let variable) = reference {
                error(
                    "\(path): environment variable \(variable) is not set", at: node.location,
                    hint: "export \(variable)=... before starting Switchyard")
            } else {
                error("\(path) is empty", at: node.location)
            }
            return nil
        }
        return resolved
    }

    mutating func sequence(_ node: ConfigNode, path: String) -> [(node: ConfigNode, path: String)] {
        switch node {
        case .sequence(let items, _):
            return items.enumerated().map { ($0.element, "\(path)[\($0.offset)]") }
        case .null:
            return []
        default:
            error("\(path) must be a list", at: node.location, hint: "start each entry with '- '")
            return []
        }
    }
}

/// Reads a mapping's keys, remembers which were used and reports the unknown ones.
struct MappingReader {
    var entries: [(key: String, keyLocation: ConfigLocation, value: ConfigNode)]
    var used: Set<String> = []
    let path: String

    init?(_ node: ConfigNode, path: String, context: inout Context) {
        guard case .mapping(let entries, _) = node else {
            if case .null = node {
                self.entries = []
                self.path = path
                return
            }
            context.error("\(path.isEmpty ? "the document" : path) must be a mapping, not \(node.kindName)", at: node.location)
            return nil
        }
        self.entries = entries
        self.path = path
        var seen: Set<String> = []
        for entry in entries where !seen.insert(entry.key).inserted {
            context.error(
                "key '\(entry.key)' appears twice in \(path.isEmpty ? "the document" : path)", at: entry.keyLocation, hint: "remove one of them")
        }
    }

    mutating func take(_ key: String) -> ConfigNode? {
        used.insert(key)
        return entries.last(where: { $0.key == key })?.value
    }

    func remaining() -> [(key: String, value: ConfigNode)] {
        entries.map { ($0.key, $0.value) }
    }

    mutating func finishAll() {
        for entry in entries { used.insert(entry.key) }
    }

    func finish(known: [String], context: inout Context) {
        for entry in entries where !used.contains(entry.key) {
            let prefix = path.isEmpty ? "" : "\(path)."
            let suggestion = Suggestions.closest(to: entry.key, in: known)
            context.error(
                "unknown key '\(prefix)\(entry.key)'",
                at: entry.keyLocation,
                hint: suggestion.map { "did you mean '\($0)'?" } ?? "known keys here: \(known.joined(separator: ", "))"
            )
        }
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}

/// Parsing of durations and byte sizes as written in configuration.
public enum ConfigUnits {
    /// `250ms`, `30s`, `5m`, `1h`, or a bare number of seconds (fractions allowed).
    public static func parseDuration(_ text: String) -> Duration? {
        let trimmed = text.trimmingSpaces()
        let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)]
        for unit in units where trimmed.hasSuffix(unit.suffix) {
            let number = trimmed.dropLast(unit.suffix.count)
            if unit.suffix == "s", number.hasSuffix("m") { continue }
            guard let value = Double(number), value.isFinite, value >= 0, value * unit.seconds < 1e9 else { return nil }
            return .milliseconds(Int64((value * unit.seconds * 1000).rounded()))
        }
        guard let value = Double(trimmed), value.isFinite, value >= 0, value < 1e9 else { return nil }
        return .milliseconds(Int64((value * 1000).rounded()))
    }

    /// `16MiB`, `512KiB`, `1GB`, `1MB`, `2048`.
    public static func parseByteSize(_ text: String) -> Int? {
        let trimmed = text.trimmingSpaces()
        let units: [(suffix: String, factor: Int)] = [
            ("KiB", 1024), ("MiB", 1024 * 1024), ("GiB", 1024 * 1024 * 1024),
            ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("B", 1),
        ]
        for unit in units where trimmed.hasSuffix(unit.suffix) {
            guard let value = Int(trimmed.dropLast(unit.suffix.count).trimmingSpaces()), value >= 0 else { return nil }
            let (product, overflow) = value.multipliedReportingOverflow(by: unit.factor)
            return overflow ? nil : product
        }
        return Int(trimmed)
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}

/// "Did you mean" suggestions by edit distance.
public enum Suggestions {
    public static func closest(to word: String, in candidates: [String]) -> String? {
        ranked(word, in: candidates, limit: 1).first
    }

    /// Candidates within a small edit distance (or sharing a prefix), best first.
    public static func ranked(_ word: String, in candidates: [String], limit: Int) -> [String] {
        let lowered = word.lowercased()
        let threshold = max(2, lowered.count / 3)
        let scored = candidates.compactMap { candidate -> (String, Int)? in
            let distance = editDistance(lowered, candidate.lowercased())
            if distance <= threshold { return (candidate, distance) }
            if candidate.lowercased().hasPrefix(lowered) || lowered.hasPrefix(candidate.lowercased()) { return (candidate, threshold) }
            return nil
        }
        return scored.sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }.prefix(limit).map(\.0)
    }

    public static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8)
        let b = Array(b.utf8)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = Array(repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

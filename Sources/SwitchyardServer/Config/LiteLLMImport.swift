import Foundation
import SwitchyardCore
import Yams

/// Converts a LiteLLM proxy `config.yaml` into a Switchyard configuration.
///
/// The conversion is a pure function of the file's text and the environment (read only for
/// LiteLLM settings that are not secrets but were given as `os.environ/NAME`, such as an
/// `api_base`: Switchyard takes only secrets from the environment, so such a value is written
/// into the output when the variable is set at import time). Every setting that has no
/// Switchyard equivalent, or that could not be converted, is reported as a finding with the
/// reason; nothing is dropped silently.
public enum LiteLLMImport {
    /// One setting the importer could not map, or a mapping the operator must know about.
    public struct Finding: Sendable, Equatable, CustomStringConvertible {
        public enum Kind: String, Sendable { case notMapped = "not mapped", note }
        public let kind: Kind
        /// Where in the LiteLLM file: `router_settings.routing_strategy`, `model_list[2].litellm_params.max_tokens`.
        public let path: String
        public let reason: String
        public var description: String { "\(kind.rawValue): \(path): \(reason)" }
    }

    public struct Result: Sendable {
        /// The Switchyard configuration, YAML.
        public let yaml: String
        public let findings: [Finding]
        public let providerCount: Int
        public let modelCount: Int
    }

    public struct InputError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Converts the text of a LiteLLM configuration; `source` names it in the output's header.
    public static func convert(yaml text: String, source: String, environment: [String: String]) throws -> Result {
        let loaded: Any?
        do {
            loaded = try Yams.load(yaml: text)
        } catch {
            throw InputError(description: "\(source) is not valid YAML: \(error)")
        }
        guard let root = loaded as? [String: Any] else {
            throw InputError(description: "\(source) is not a LiteLLM configuration (a YAML mapping with model_list, router_settings, ...)")
        }
        var converter = Converter(environment: environment)
        converter.convert(root)
        let output = converter.output()
        var header = "# Switchyard configuration converted from the LiteLLM configuration \(source)\n"
        header += "# by `switchyard import litellm` \(SwitchyardVersion.current). Check it with `switchyard check-config`.\n"
        if !converter.findings.isEmpty {
            header += "# \(converter.findings.count) LiteLLM setting(s) were not mapped or need attention (listed on stderr).\n"
        }
        return Result(
            yaml: header + YAMLWriter.render(output),
            findings: converter.findings,
            providerCount: converter.providers.count,
            modelCount: converter.groups.count
        )
    }
}

// MARK: - Conversion

/// A YAML value to write, with mapping keys in the order given.
indirect enum YAMLValue {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case list([YAMLValue])
    case map([(String, YAMLValue)])
}

private struct ProviderKind {
    let type: String
    /// A base URL LiteLLM uses for the prefix where Switchyard has no preset of its own.
    var defaultBase: String? = nil
    /// Switchyard's preset needs `base_url`.
    var needsBase = false
    /// What LiteLLM's `api_base` lacks to be the OpenAI-compatible root (Ollama's native root).
    var baseSuffix: String? = nil
}

private struct Converter {
    let environment: [String: String]
    var findings: [LiteLLMImport.Finding] = []

    struct Provider {
        var name: String
        var type: String
        var fields: [(String, YAMLValue)]
        var options: [(String, YAMLValue)]
        var signature: String
    }

    struct Deployment {
        var provider: String
        var model: String?
        var fields: [(String, YAMLValue)]
        var priority: Int?
        var timeout: Double?
        var firstTokenTimeout: Double?
    }

    struct Group {
        var name: String
        var deployments: [Deployment] = []
        var aliases: [String] = []
        var fallbacks: [(String, [String]?)] = []
    }

    var providers: [Provider] = []
    var groups: [Group] = []
    var server: [(String, YAMLValue)] = []
    var router: [(String, YAMLValue)] = []
    var circuitBreaker: [(String, YAMLValue)] = []
    var retry: [(String, YAMLValue)] = []
    var cache: [(String, YAMLValue)]? = nil
    var redis: [(String, YAMLValue)]? = nil
    var tracing = false
    var strategy: String? = nil

    init(environment: [String: String]) { self.environment = environment }

    // Prefixes of LiteLLM's `model` strings and the Switchyard provider types they become.
    static let kinds: [String: ProviderKind] = [
        "openai": ProviderKind(type: "openai"),
        "text-completion-openai": ProviderKind(type: "openai"),
        "custom_openai": ProviderKind(type: "openai-compatible", needsBase: true),
        "openai_like": ProviderKind(type: "openai-compatible", needsBase: true),
        "llamafile": ProviderKind(type: "openai-compatible", defaultBase: "http://127.0.0.1:8080/v1"),
        "azure": ProviderKind(type: "azure", needsBase: true),
        "azure_text": ProviderKind(type: "azure", needsBase: true),
        "azure_ai": ProviderKind(type: "openai-compatible", needsBase: true),
        "anthropic": ProviderKind(type: "anthropic"),
        "bedrock": ProviderKind(type: "bedrock"),
        "vertex_ai": ProviderKind(type: "vertex"),
        "vertex_ai_beta": ProviderKind(type: "vertex"),
        "gemini": ProviderKind(type: "gemini"),
        "cohere": ProviderKind(type: "cohere"),
        "cohere_chat": ProviderKind(type: "cohere"),
        "groq": ProviderKind(type: "groq"),
        "together_ai": ProviderKind(type: "together"),
        "mistral": ProviderKind(type: "mistral"),
        "deepseek": ProviderKind(type: "deepseek"),
        "openrouter": ProviderKind(type: "openrouter"),
        "fireworks_ai": ProviderKind(type: "fireworks"),
        "ollama": ProviderKind(type: "ollama", baseSuffix: "/v1"),
        "ollama_chat": ProviderKind(type: "ollama", baseSuffix: "/v1"),
        "hosted_vllm": ProviderKind(type: "vllm"),
        "lm_studio": ProviderKind(type: "lmstudio"),
        "xai": ProviderKind(type: "openai-compatible", defaultBase: "https://api.x.ai/v1"),
        "perplexity": ProviderKind(type: "openai-compatible", defaultBase: "https://api.perplexity.ai"),
        "deepinfra": ProviderKind(type: "openai-compatible", defaultBase: "https://api.deepinfra.com/v1/openai"),
        "cerebras": ProviderKind(type: "openai-compatible", defaultBase: "https://api.cerebras.ai/v1"),
        "nvidia_nim": ProviderKind(type: "openai-compatible", defaultBase: "https://integrate.api.nvidia.com/v1"),
    ]

    mutating func notMapped(_ path: String, _ reason: String) {
        findings.append(.init(kind: .notMapped, path: path, reason: reason))
    }

    mutating func note(_ path: String, _ reason: String) {
        findings.append(.init(kind: .note, path: path, reason: reason))
    }

    mutating func convert(_ root: [String: Any]) {
        if let list = root["model_list"] {
            if let entries = list as? [Any] {
                for (index, entry) in entries.enumerated() { convertModel(entry, path: "model_list[\(index)]") }
            } else {
                notMapped("model_list", "not a list")
            }
        }
        // LiteLLM's router takes router_settings over the same litellm_settings: read them last.
        if let settings = root["litellm_settings"] { convertLiteLLMSettings(settings, path: "litellm_settings") }
        if let settings = root["router_settings"] { convertRouterSettings(settings, path: "router_settings") }
        if let settings = root["general_settings"] { convertGeneralSettings(settings, path: "general_settings") }
        if let variables = root["environment_variables"] as? [String: Any], !variables.isEmpty {
            notMapped(
                "environment_variables",
                "Switchyard does not set environment variables from its file; export \(variables.keys.sorted().joined(separator: ", ")) in the gateway's environment"
            )
        }
        let handled: Set<String> = ["model_list", "router_settings", "litellm_settings", "general_settings", "environment_variables"]
        for key in root.keys.sorted() where !handled.contains(key) {
            notMapped(key, Self.topLevelReasons[key] ?? "no Switchyard equivalent")
        }
    }

    static let topLevelReasons: [String: String] = [
        "mcp_servers": "Switchyard is no MCP gateway",
        "guardrails":
            "LiteLLM guardrail integrations have no one-to-one equivalent; configure Switchyard's `guardrails:` (PII, secrets, injection, content, webhooks)",
        "callback_settings": "callbacks have no equivalent; tracing goes over OTLP (`tracing:`)",
        "credential_list": "credentials are written on each provider (`api_key: env:NAME`)",
        "assistant_settings": "the Assistants API is not served",
        "files_settings": "the Files API is not served",
        "finetune_settings": "fine-tuning endpoints are not served",
        "vector_store_registry": "vector stores are not served",
        "search_tools": "search tools are not served",
        "pass_through_endpoints": "pass-through endpoints are not served",
    ]

    // MARK: model_list

    mutating func convertModel(_ entry: Any, path: String) {
        guard let entry = entry as? [String: Any] else { return notMapped(path, "not a mapping") }
        guard let name = scalarString(entry["model_name"]) else { return notMapped(path, "has no model_name") }
        guard let params = entry["litellm_params"] as? [String: Any], let model = scalarString(params["model"]) else {
            return notMapped(path, "model '\(name)' has no litellm_params.model")
        }
        let paramsPath = path + ".litellm_params"
        // Provider prefix: `azure/gpt-4o`; without one LiteLLM guesses from the model name.
        var prefix: String
        var upstream: String
        if let slash = model.firstIndex(of: "/"), Self.kinds[String(model[..<slash])] != nil {
            prefix = String(model[..<slash])
            upstream = String(model[model.index(after: slash)...])
        } else if let slash = model.firstIndex(of: "/") {
            return notMapped(path, "model '\(name)': provider '\(model[..<slash])' (in '\(model)') has no Switchyard provider type")
        } else {
            prefix = Self.guessProvider(model)
            upstream = model
            note(paramsPath + ".model", "'\(model)' names no provider; taken as \(prefix)/\(model), as LiteLLM guesses it")
        }
        guard let kind = Self.kinds[prefix] else { return notMapped(path, "provider '\(prefix)' has no Switchyard type") }
        if prefix == "bedrock" {
            for route in ["converse/", "invoke/"] where upstream.hasPrefix(route) {
                upstream.removeFirst(route.count)
                if route == "invoke/" { note(paramsPath + ".model", "Bedrock's InvokeModel route: Switchyard calls the Converse API") }
            }
        }

        var handled: Set<String> = ["model"]
        var fields: [(String, YAMLValue)] = []
        var options: [(String, YAMLValue)] = []
        var signature = [kind.type]

        // base URL
        var base: String? = nil
        if let value = params["api_base"] ?? params["base_url"] {
            handled.formUnion(["api_base", "base_url"])
            base = plainValue(value, path: paramsPath + ".api_base")
            // Never fall back to the provider's public endpoint for a deployment LiteLLM sent elsewhere.
            guard base != nil else { return notMapped(path, "model '\(name)': its api_base could not be resolved") }
        }
        if let found = base {
            guard found.hasPrefix("http://") || found.hasPrefix("https://") else {
                return notMapped(path, "model '\(name)': api_base '\(found)' is not an http(s) URL")
            }
            var url = found
            while url.hasSuffix("/") { url.removeLast() }
            if prefix == "anthropic", url.hasSuffix("/v1/messages") { url.removeLast("/v1/messages".count) }
            if let suffix = kind.baseSuffix, !url.hasSuffix(suffix) { url += suffix }
            base = url
        } else {
            base = kind.defaultBase
        }
        if kind.needsBase, base == nil {
            return notMapped(path, "model '\(name)': \(prefix) needs api_base (the endpoint), which was not given as a value")
        }
        if let base, base != kind.defaultBase || kind.type == "openai-compatible" {
            fields.append(("base_url", .string(base)))
        }
        signature.append(base ?? "")

        // credentials
        for (key, target) in [
            ("api_key", "api_key"), ("aws_access_key_id", "aws_access_key_id"), ("aws_secret_access_key", "aws_secret_access_key"),
            ("aws_session_token", "aws_session_token"),
        ] {
            guard let value = params[key] else { continue }
            handled.insert(key)
            if let secret = secretValue(value) {
                fields.append((target, .string(secret)))
                signature.append("\(target)=\(secret)")
            }
        }
        switch kind.type {
        case "azure":
            if let value = params["api_version"] {
                handled.insert("api_version")
                if let version = plainValue(value, path: paramsPath + ".api_version") {
                    options.append(("api_version", .string(version)))
                    signature.append("v=\(version)")
                }
            }
        case "bedrock":
            if let value = params["aws_region_name"] {
                handled.insert("aws_region_name")
                if let region = plainValue(value, path: paramsPath + ".aws_region_name") {
                    options.append(("region", .string(region)))
                    signature.append("r=\(region)")
                }
            }
            if params["aws_region_name"] == nil {
                if let region = environment["AWS_REGION"] ?? environment["AWS_REGION_NAME"] ?? environment["AWS_DEFAULT_REGION"], !region.isEmpty {
                    options.append(("region", .string(region)))
                    signature.append("r=\(region)")
                    note(path, "no aws_region_name: the region of the import's environment (\(region)) was written")
                } else {
                    note(
                        path,
                        "no aws_region_name: Switchyard takes the region from AWS_REGION in the gateway's environment (set it, or options.region)")
                }
            }
            if params["aws_access_key_id"] == nil, params["api_key"] == nil {
                note(
                    path,
                    "no keys: Switchyard uses the AWS default credential chain too (environment, shared files with AWS_PROFILE, web identity, container, instance metadata)"
                )
            }
            for key in ["aws_profile_name", "aws_role_name", "aws_session_name", "aws_web_identity_token", "aws_bedrock_runtime_endpoint"]
            where params[key] != nil {
                handled.insert(key)
                notMapped(
                    paramsPath + "." + key,
                    "Switchyard takes keys or the AWS default credential chain (set AWS_PROFILE, AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE in its environment), not per-deployment profiles, roles or endpoints"
                )
            }
        case "vertex":
            for (key, option) in [("vertex_project", "project"), ("vertex_location", "location")] {
                handled.insert(key)
                guard let value = params[key], let text = plainValue(value, path: paramsPath + "." + key) else {
                    return notMapped(path, "model '\(name)': Vertex AI needs \(key) as a value (Switchyard does not discover it)")
                }
                options.append((option, .string(text)))
                signature.append("\(option)=\(text)")
            }
            handled.insert("vertex_credentials")
            var credentials: String? = nil
            if let value = params["vertex_credentials"] { credentials = plainValue(value, path: paramsPath + ".vertex_credentials") }
            if credentials == nil, let file = environment["GOOGLE_APPLICATION_CREDENTIALS"], !file.isEmpty {
                credentials = file
                note(path, "credentials_file taken from GOOGLE_APPLICATION_CREDENTIALS at import time")
            }
            guard let credentials, !credentials.hasPrefix("{") else {
                return notMapped(
                    path,
                    "model '\(name)': Vertex AI needs a service-account key file (vertex_credentials or GOOGLE_APPLICATION_CREDENTIALS); application default credentials are not supported"
                )
            }
            fields.append(("credentials_file", .string(credentials)))
            signature.append("c=\(credentials)")
        default:
            break
        }

        // deployment
        var deployment = Deployment(provider: "", model: upstream == "*" ? nil : upstream, fields: [])
        for key in ["rpm", "tpm"] {
            handled.insert(key)
            guard let value = params[key] ?? entry[key] else { continue }
            if let number = integer(value), number > 0 {
                deployment.fields.append((key, .int(number)))
            } else {
                notMapped(path + "." + key, "not a positive number")
            }
        }
        if let value = params["weight"] {
            handled.insert("weight")
            if let number = double(value), number > 0 {
                deployment.fields.append(("weight", number == number.rounded() ? .int(Int(number)) : .double(number)))
            }
        }
        if let value = params["order"] {
            handled.insert("order")
            if let number = integer(value) { deployment.priority = number }
        }
        if let value = params["timeout"] {
            handled.insert("timeout")
            deployment.timeout = double(value)
        }
        if let value = params["stream_timeout"] {
            handled.insert("stream_timeout")
            deployment.firstTokenTimeout = double(value)
        }
        let input = params["input_cost_per_token"].flatMap(double)
        let output = params["output_cost_per_token"].flatMap(double)
        if input != nil || output != nil {
            handled.formUnion(["input_cost_per_token", "output_cost_per_token"])
            if let input, let output {
                deployment.fields.append(("price", .map([("input", .double(input * 1_000_000)), ("output", .double(output * 1_000_000))])))
            } else {
                notMapped(paramsPath + ".input_cost_per_token", "a price needs both input_cost_per_token and output_cost_per_token")
            }
        }
        if let info = entry["model_info"] as? [String: Any] {
            if let id = scalarString(info["id"]) { deployment.fields.insert(("id", .string(id)), at: 0) }
            for key in info.keys.sorted() where key != "id" && key != "mode" {
                notMapped(path + ".model_info." + key, "model metadata has no Switchyard equivalent")
            }
        }
        for key in params.keys.sorted() where !handled.contains(key) {
            notMapped(paramsPath + "." + key, Self.paramReasons[key] ?? "no Switchyard equivalent for this deployment parameter")
        }
        for key in entry.keys.sorted() where !["model_name", "litellm_params", "model_info", "rpm", "tpm"].contains(key) {
            notMapped(path + "." + key, "no Switchyard equivalent")
        }

        deployment.provider = provider(type: kind.type, fields: fields, options: options, signature: signature.joined(separator: "|"), hint: prefix)
        if let index = groups.firstIndex(where: { $0.name == name }) {
            groups[index].deployments.append(deployment)
        } else {
            groups.append(Group(name: name, deployments: [deployment]))
        }
    }

    static let paramReasons: [String: String] = [
        "max_retries": "retries are per model group in Switchyard (router_settings.num_retries becomes router.retry)",
        "temperature": "Switchyard forwards the client's parameters and sets no defaults",
        "max_tokens": "Switchyard forwards the client's parameters and sets no defaults",
        "organization": "no OpenAI organisation header setting; add it under the provider's `headers` (OpenAI-Organization)",
        "extra_headers": "add them under the provider's `headers`",
        "drop_params": "Switchyard forwards parameters as sent",
        "use_in_pass_through": "pass-through endpoints are not served",
        "mock_response": "use the built-in `mock` provider",
        "tags": "tag-based routing: use `routing_rules`",
    ]

    static func guessProvider(_ model: String) -> String {
        if model.hasPrefix("claude") { return "anthropic" }
        if model.hasPrefix("gemini") { return "gemini" }
        if model.hasPrefix("command") { return "cohere" }
        return "openai"
    }

    /// Reuses a provider with the same type, endpoint and credentials, else adds one.
    mutating func provider(type: String, fields: [(String, YAMLValue)], options: [(String, YAMLValue)], signature: String, hint: String) -> String {
        if let existing = providers.first(where: { $0.signature == signature }) { return existing.name }
        let base = hint.replacingOccurrences(of: "_", with: "-")
        var name = base
        var counter = 2
        while providers.contains(where: { $0.name == name }) {
            name = "\(base)-\(counter)"
            counter += 1
        }
        providers.append(Provider(name: name, type: type, fields: fields, options: options, signature: signature))
        return name
    }

    // MARK: settings

    mutating func convertRouterSettings(_ value: Any, path: String) {
        guard let settings = value as? [String: Any] else { return notMapped(path, "not a mapping") }
        for key in settings.keys.sorted() {
            let item = settings[key]!
            let itemPath = path + "." + key
            if reliabilitySetting(key, item, path: itemPath) { continue }
            switch key {
            case "routing_strategy":
                guard let text = scalarString(item) else { notMapped(itemPath, "not a string"); continue }
                switch text {
                case "simple-shuffle": strategy = "weighted"
                case "least-busy": strategy = "least-busy"
                case "latency-based-routing": strategy = "latency"
                case "cost-based-routing": strategy = "cost"
                case "usage-based-routing", "usage-based-routing-v2":
                    strategy = "weighted"
                    note(itemPath, "'\(text)': Switchyard has no usage-based strategy; weighted, and each deployment's rpm/tpm keeps a full one out")
                default: notMapped(itemPath, "'\(text)' has no Switchyard strategy")
                }
            case "timeout": setDuration(item, key: "timeout", path: itemPath)
            case "stream_timeout": setDuration(item, key: "first_token_timeout", path: itemPath)
            case "model_group_alias": addAliases(item, path: itemPath)
            case "redis_host", "redis_port", "redis_password", "redis_url":
                if key == "redis_host" || key == "redis_url" { convertRedis(settings, path: path) }
            case "enable_pre_call_checks":
                note(itemPath, "Switchyard always skips deployments whose context_window the prompt does not fit")
            default:
                notMapped(itemPath, "no Switchyard equivalent")
            }
        }
    }

    mutating func convertLiteLLMSettings(_ value: Any, path: String) {
        guard let settings = value as? [String: Any] else { return notMapped(path, "not a mapping") }
        for key in settings.keys.sorted() {
            let item = settings[key]!
            let itemPath = path + "." + key
            if reliabilitySetting(key, item, path: itemPath) { continue }
            switch key {
            case "request_timeout": setDuration(item, key: "timeout", path: itemPath)
            case "cache":
                if bool(item) == true { convertCache(settings["cache_params"] as? [String: Any] ?? [:], path: path + ".cache_params") }
            case "cache_params":
                if bool(settings["cache"]) != true { notMapped(itemPath, "cache is not true") }
            case "success_callback", "failure_callback", "callbacks":
                let names = (item as? [Any])?.compactMap(scalarString) ?? scalarString(item).map { [$0] } ?? []
                for name in names {
                    switch name {
                    case "otel", "opentelemetry", "arize", "arize_phoenix":
                        tracing = true
                        note(itemPath, "'\(name)' becomes `tracing:` (OTLP/HTTP to http://localhost:4318/v1/traces; set tracing.endpoint)")
                    case "prometheus":
                        note(itemPath, "'prometheus': Switchyard always serves /metrics")
                    default:
                        notMapped(
                            itemPath,
                            "callback '\(name)' has no equivalent; Switchyard exports OTLP traces, Prometheus metrics and a request-log webhook")
                    }
                }
            case "drop_params":
                notMapped(itemPath, "Switchyard forwards parameters as sent and answers a provider's refusal as its error")
            case "set_verbose", "json_logs":
                note(itemPath, "Switchyard logs JSON by default; set server.log_level for detail")
            default:
                notMapped(itemPath, "no Switchyard equivalent")
            }
        }
    }

    mutating func convertGeneralSettings(_ value: Any, path: String) {
        guard let settings = value as? [String: Any] else { return notMapped(path, "not a mapping") }
        for key in settings.keys.sorted() {
            let item = settings[key]!
            let itemPath = path + "." + key
            switch key {
            case "master_key":
                if let secret = secretValue(item) { server.append(("master_key", .string(secret))) }
            case "database_url":
                guard let secret = secretValue(item) else { continue }
                server.append(("database", .string(secret)))
                server.append(("key_secret", .string("env:SWITCHYARD_KEY_SECRET")))
                note(
                    itemPath,
                    "PostgreSQL needs server.key_secret (the same on every instance): set SWITCHYARD_KEY_SECRET to 32 or more random bytes. Switchyard creates its own tables; LiteLLM's keys and spend are not carried over"
                )
            case "disable_spend_logs":
                if bool(item) == true { server.append(("usage_ledger", .bool(false))) }
            case "store_model_in_db":
                if bool(item) == true {
                    notMapped(itemPath, "models live in the file only (hot-reloaded); models stored in LiteLLM's database are not carried over")
                }
            default:
                notMapped(itemPath, "no Switchyard equivalent")
            }
        }
    }

    mutating func convertCache(_ params: [String: Any], path: String) {
        var settings: [(String, YAMLValue)] = []
        let type = scalarString(params["type"]) ?? "redis"
        switch type {
        case "local": settings.append(("backend", .string("memory")))
        case "redis":
            settings.append(("backend", .string("redis")))
            if redis == nil { convertRedis(params, path: path) }
            if redis == nil {
                redis = [("url", .string("env:REDIS_URL"))]
                note(
                    path,
                    "LiteLLM reads REDIS_HOST, REDIS_PORT and REDIS_PASSWORD; Switchyard one secret URL: set REDIS_URL=redis://[:PASSWORD@]HOST:PORT")
            }
        case "disk": settings.append(("backend", .string("sqlite")))
        default:
            notMapped(
                path + ".type",
                "cache type '\(type)' has no equivalent (Switchyard caches in memory, SQLite or Redis, and has its own semantic layer: cache.semantic)"
            )
            settings.append(("backend", .string("memory")))
        }
        if let ttl = params["ttl"].flatMap(double), ttl > 0 { settings.append(("ttl", .string(Self.duration(ttl)))) }
        if let namespace = params["namespace"] {
            notMapped(
                path + ".namespace",
                "cache namespaces are per request (x-switchyard-cache-namespace); \(scalarString(namespace) ?? "") not set globally")
        }
        for key in params.keys.sorted() where !["type", "ttl", "namespace", "host", "port", "password", "url", "redis_url"].contains(key) {
            notMapped(path + "." + key, "no Switchyard cache equivalent")
        }
        cache = settings
    }

    mutating func convertRedis(_ params: [String: Any], path: String) {
        if let url = params["redis_url"] ?? params["url"] {
            if let secret = secretValue(url) { redis = [("url", .string(secret))] }
            return
        }
        guard let hostValue = params["redis_host"] ?? params["host"] else { return }
        let host = plainValue(hostValue, path: path + ".host")
        let port = (params["redis_port"] ?? params["port"]).flatMap { plainValue($0, path: path + ".port") } ?? "6379"
        let password = params["redis_password"] ?? params["password"]
        guard let host else {
            notMapped(path, "Redis host given by environment and unset at import time: write redis.url as env:REDIS_URL")
            return
        }
        guard host.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || ".-:[]".unicodeScalars.contains($0) }),
            port.allSatisfy(\.isNumber)
        else {
            notMapped(path, "'\(host):\(port)' is not a host name and port: write redis.url yourself")
            return
        }
        if let password, let reference = scalarString(password), !reference.isEmpty {
            if reference.hasPrefix("os.environ/") {
                redis = [("url", .string("env:REDIS_URL"))]
                note(
                    path,
                    "the Redis password is in \(reference.dropFirst("os.environ/".count)); Switchyard takes the whole URL as a secret: set REDIS_URL=redis://:PASSWORD@\(host):\(port)"
                )
            } else {
                let encoded = reference.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? reference
                redis = [("url", .string("redis://:\(encoded)@\(host):\(port)"))]
                note(path, "the Redis password is written into redis.url; better: redis.url: env:REDIS_URL")
            }
        } else {
            redis = [("url", .string("redis://\(host):\(port)"))]
        }
    }

    /// The retry, fallback and cooldown settings LiteLLM accepts in both `router_settings` and
    /// `litellm_settings`; false when `key` is none of them.
    mutating func reliabilitySetting(_ key: String, _ item: Any, path: String) -> Bool {
        switch key {
        case "num_retries": setRetries(item, path: path)
        case "fallbacks": addFallbacks(item, on: nil, path: path)
        case "context_window_fallbacks": addFallbacks(item, on: ["context_length"], path: path)
        case "content_policy_fallbacks": addFallbacks(item, on: ["content_filter"], path: path)
        case "allowed_fails", "cooldown_time": setBreaker(key, item, path: path)
        default: return false
        }
        return true
    }

    /// `allowed_fails` → breaker `consecutive_failures`, `cooldown_time` → breaker `cooldown`.
    mutating func setBreaker(_ key: String, _ value: Any, path: String) {
        let target = key == "allowed_fails" ? "consecutive_failures" : "cooldown"
        guard let number = double(value), number > 0 else { return notMapped(path, "not a positive number") }
        circuitBreaker.removeAll { $0.0 == target }
        circuitBreaker.append((target, key == "allowed_fails" ? .int(Int(number)) : .string(Self.duration(number))))
    }

    mutating func setRetries(_ value: Any, path: String) {
        guard let number = integer(value), number >= 0 else { return notMapped(path, "not a number") }
        retry.removeAll { $0.0 == "attempts" }
        retry.append(("attempts", .int(number)))
    }

    mutating func setDuration(_ value: Any, key: String, path: String) {
        guard let seconds = double(value), seconds > 0 else { return notMapped(path, "not a positive number of seconds") }
        router.removeAll { $0.0 == key }
        router.append((key, .string(Self.duration(seconds))))
    }

    mutating func addFallbacks(_ value: Any, on classes: [String]?, path: String) {
        guard let list = value as? [Any] else { return notMapped(path, "not a list of {model: [fallbacks]}") }
        for item in list {
            guard let mapping = item as? [String: Any] else { notMapped(path, "entry is not a mapping"); continue }
            for (model, targets) in mapping.sorted(by: { $0.key < $1.key }) {
                let names = (targets as? [Any])?.compactMap(scalarString) ?? scalarString(targets).map { [$0] } ?? []
                guard let index = groups.firstIndex(where: { $0.name == model }) else {
                    notMapped(path + "." + model, "no model group '\(model)' in model_list")
                    continue
                }
                for name in names {
                    guard groups.contains(where: { $0.name == name }) else {
                        notMapped(path + "." + model, "fallback '\(name)' is no model group in model_list")
                        continue
                    }
                    groups[index].fallbacks.append((name, classes))
                }
            }
        }
    }

    mutating func addAliases(_ value: Any, path: String) {
        guard let mapping = value as? [String: Any] else { return notMapped(path, "not a mapping") }
        for (alias, target) in mapping.sorted(by: { $0.key < $1.key }) {
            let model = scalarString(target) ?? scalarString((target as? [String: Any])?["model"])
            guard let model, let index = groups.firstIndex(where: { $0.name == model }) else {
                notMapped(path + "." + alias, "target is no model group in model_list")
                continue
            }
            if groups.contains(where: { $0.name == alias }) {
                notMapped(path + "." + alias, "a model group has that name already")
                continue
            }
            groups[index].aliases.append(alias)
        }
    }

    // MARK: values

    /// `os.environ/NAME` → `env:NAME`; a literal stays a literal (check-config warns about it).
    func secretValue(_ value: Any) -> String? {
        guard let text = scalarString(value), !text.isEmpty else { return nil }
        if text.hasPrefix("os.environ/") { return "env:" + text.dropFirst("os.environ/".count) }
        return text
    }

    /// A setting that is not a secret: its value, or, for `os.environ/NAME`, the variable's value
    /// at import time (reported), else nil (reported as not mapped).
    mutating func plainValue(_ value: Any, path: String) -> String? {
        guard let text = scalarString(value), !text.isEmpty else { return nil }
        guard text.hasPrefix("os.environ/") else { return text }
        let name = String(text.dropFirst("os.environ/".count))
        if let resolved = environment[name], !resolved.isEmpty {
            note(path, "Switchyard takes only secrets from the environment: the value of \(name) at import time was written")
            return resolved
        }
        notMapped(path, "read from \(name), which is unset; Switchyard takes only secrets from the environment: write the value")
        return nil
    }

    func scalarString(_ value: Any?) -> String? {
        switch value {
        case let text as String: return text
        case let number as Int: return String(number)
        case let number as Double: return String(number)
        case let flag as Bool: return String(flag)
        default: return nil
        }
    }

    func integer(_ value: Any) -> Int? {
        if let number = value as? Int { return number }
        if let number = value as? Double, number == number.rounded() { return Int(number) }
        if let text = value as? String { return Int(text.replacingOccurrences(of: "_", with: "")) }
        return nil
    }

    func double(_ value: Any) -> Double? {
        if let number = value as? Double { return number }
        if let number = value as? Int { return Double(number) }
        if let text = value as? String { return Double(text.replacingOccurrences(of: "_", with: "")) }
        return nil
    }

    func bool(_ value: Any?) -> Bool? {
        if let flag = value as? Bool { return flag }
        if let text = value as? String {
            return ["true", "yes", "on"].contains(text.lowercased()) ? true : ["false", "no", "off"].contains(text.lowercased()) ? false : nil
        }
        return nil
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
        return seconds == seconds.rounded() ? "\(Int(seconds))s" : "\(Int((seconds * 1000).rounded()))ms"
    }

    // MARK: output

    func output() -> [(String, YAMLValue)] {
        var root: [(String, YAMLValue)] = []
        if !server.isEmpty { root.append(("server", .map(server))) }
        root.append(
            (
                "providers",
                .list(
                    providers.map { provider in
                        var entry: [(String, YAMLValue)] = [("name", .string(provider.name)), ("type", .string(provider.type))]
                        entry += provider.fields
                        if !provider.options.isEmpty { entry.append(("options", .map(provider.options))) }
                        return .map(entry)
                    })
            ))
        root.append(("models", .list(groups.map(groupValue))))
        var routerSection = router
        if !retry.isEmpty { routerSection.insert(("retry", .map(retry)), at: 0) }
        if !circuitBreaker.isEmpty { routerSection.append(("circuit_breaker", .map(circuitBreaker))) }
        if !routerSection.isEmpty { root.append(("router", .map(routerSection))) }
        if let redis { root.append(("redis", .map(redis))) }
        if let cache { root.append(("cache", .map(cache))) }
        if tracing { root.append(("tracing", .map([("enabled", .bool(true))]))) }
        return root
    }

    func groupValue(_ group: Group) -> YAMLValue {
        var entry: [(String, YAMLValue)] = [("name", .string(group.name))]
        if !group.aliases.isEmpty { entry.append(("aliases", .list(group.aliases.map { .string($0) }))) }
        if group.deployments.count > 1, let strategy { entry.append(("strategy", .string(strategy))) }
        // LiteLLM's per-deployment timeouts: the group takes the longest.
        if let timeout = group.deployments.compactMap(\.timeout).max() { entry.append(("timeout", .string(Self.duration(timeout)))) }
        if let timeout = group.deployments.compactMap(\.firstTokenTimeout).max() {
            entry.append(("first_token_timeout", .string(Self.duration(timeout))))
        }
        // LiteLLM's `order` (1 first): Switchyard's priority tiers (0 first); deployments
        // without an order come after every ordered one.
        let orders = group.deployments.compactMap(\.priority)
        let unordered = (orders.max() ?? 0) + 1
        let lowest = orders.min() ?? 1
        var ids: Set<String> = []
        let deployments: [YAMLValue] = group.deployments.map { deployment in
            var fields: [(String, YAMLValue)] = [("provider", .string(deployment.provider))]
            if let model = deployment.model { fields.append(("model", .string(model))) }
            var extra = deployment.fields
            if !orders.isEmpty { extra.append(("priority", .int((deployment.priority ?? unordered) - lowest))) }
            if !extra.contains(where: { $0.0 == "id" }) {
                let id = "\(deployment.provider)/\(deployment.model ?? "*")"
                if ids.contains(id) {
                    var counter = 2
                    while ids.contains("\(id)#\(counter)") { counter += 1 }
                    extra.insert(("id", .string("\(id)#\(counter)")), at: 0)
                    ids.insert("\(id)#\(counter)")
                } else {
                    ids.insert(id)
                }
            }
            return .map(fields + extra)
        }
        if deployments.count == 1, case .map(let fields) = deployments[0], !fields.contains(where: { $0.0 == "id" }) {
            entry += fields
        } else {
            entry.append(("deployments", .list(deployments)))
        }
        if !group.fallbacks.isEmpty {
            entry.append(
                (
                    "fallbacks",
                    .list(
                        group.fallbacks.map { name, classes in
                            guard let classes else { return .string(name) }
                            return .map([("model", .string(name)), ("on", .list(classes.map { .string($0) }))])
                        })
                ))
        }
        return .map(entry)
    }
}

// MARK: - Writing YAML

/// Block-style YAML with every string quoted unless it is plainly a word, so that values such as
/// `2024-10-21`, `on` or `1e3` stay strings.
enum YAMLWriter {
    static func render(_ root: [(String, YAMLValue)]) -> String {
        var out = ""
        for (index, (key, value)) in root.enumerated() {
            if index > 0 { out += "\n" }
            write(key: key, value: value, indent: 0, into: &out)
        }
        return out
    }

    static func write(key: String, value: YAMLValue, indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        switch value {
        case .map(let entries) where !entries.isEmpty:
            out += "\(pad)\(scalar(key)):\n"
            for (childKey, child) in entries { write(key: childKey, value: child, indent: indent + 2, into: &out) }
        case .list(let items) where !items.isEmpty:
            out += "\(pad)\(scalar(key)):\n"
            for item in items { writeItem(item, indent: indent + 2, into: &out) }
        default:
            out += "\(pad)\(scalar(key)): \(inline(value))\n"
        }
    }

    static func writeItem(_ value: YAMLValue, indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        switch value {
        case .map(let entries) where !entries.isEmpty:
            for (index, (key, child)) in entries.enumerated() {
                var line = ""
                write(key: key, value: child, indent: indent + 2, into: &line)
                if index == 0 { line = pad + "- " + line.dropFirst(indent + 2) }
                out += line
            }
        default:
            out += "\(pad)- \(inline(value))\n"
        }
    }

    static func inline(_ value: YAMLValue) -> String {
        switch value {
        case .string(let text): return scalar(text)
        case .int(let number): return String(number)
        case .double(let number):
            return number == number.rounded() && abs(number) < 1e15 ? String(Int(number)) : String(number)
        case .bool(let flag): return flag ? "true" : "false"
        case .list(let items): return "[" + items.map(inline).joined(separator: ", ") + "]"
        case .map(let entries): return "{" + entries.map { "\(scalar($0.0)): \(inline($0.1))" }.joined(separator: ", ") + "}"
        }
    }

    static let reserved: Set<String> = ["true", "false", "yes", "no", "on", "off", "null", "~", "y", "n"]

    static func scalar(_ text: String) -> String {
        let plain =
            !text.isEmpty && !reserved.contains(text.lowercased())
            && text.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "-_./".unicodeScalars.contains($0) }
            && text.unicodeScalars.first.map { CharacterSet.letters.contains($0) } == true
        if plain { return text }
        var quoted = "\""
        for character in text.unicodeScalars {
            switch character {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\t": quoted += "\\t"
            default:
                if character.value < 0x20 { quoted += String(format: "\\x%02X", character.value) } else { quoted.unicodeScalars.append(character) }
            }
        }
        return quoted + "\""
    }
}

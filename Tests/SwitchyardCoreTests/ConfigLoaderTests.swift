import Testing

@testable import SwitchyardCore

/// Builds ConfigNode trees by hand (the YAML reader is tested in the server tests).
enum Node {
    static func location(_ line: Int) -> ConfigLocation { ConfigLocation(file: "test.yaml", line: line, column: 1) }
    static func scalar(_ value: String, line: Int = 1) -> ConfigNode { .scalar(value, location(line), quoted: false) }
    static func map(_ entries: [(String, ConfigNode)], line: Int = 1) -> ConfigNode {
        .mapping(entries.map { (key: $0.0, keyLocation: $0.1.location, value: $0.1) }, location(line))
    }
    static func list(_ items: [ConfigNode], line: Int = 1) -> ConfigNode { .sequence(items, location(line)) }
}

@Suite struct ConfigLoaderTests {
    let loader = ConfigLoader(environment: ["OPENAI_KEY": "sk-test-123456"], fileExists: { _ in false })

    func validRoot(extraProvider: [(String, ConfigNode)] = [], server: [(String, ConfigNode)] = []) -> ConfigNode {
        Node.map([
            ("server", Node.map([("port", Node.scalar("9000"))] + server, line: 1)),
            (
                "providers",
                Node.list([
                    Node.map(
                        [
                            ("name", Node.scalar("openai", line: 4)), ("type", Node.scalar("openai", line: 5)),
                            ("api_key", Node.scalar("env:OPENAI_KEY", line: 6)),
                        ] + extraProvider, line: 4),
                    Node.map(
                        [("name", Node.scalar("local")), ("type", Node.scalar("vllm")), ("base_url", Node.scalar("http://10.0.0.5:8000/v1/"))],
                        line: 7),
                ])
            ),
            (
                "models",
                Node.list([
                    Node.map(
                        [
                            ("name", Node.scalar("gpt")), ("provider", Node.scalar("openai")), ("model", Node.scalar("gpt-4o")),
                            ("aliases", Node.list([Node.scalar("g")])),
                        ], line: 10),
                    Node.map([("name", Node.scalar("openai/*")), ("provider", Node.scalar("openai"))], line: 14),
                ])
            ),
        ])
    }

    @Test func loadsAValidConfigurationWithPresets() throws {
        let (config, warnings) = try loader.loadOrThrow(validRoot(), source: "test.yaml")
        #expect(warnings.isEmpty)
        #expect(config.server.port == 9000)
        #expect(config.providers[0].baseURL == "https://api.openai.com/v1")
        #expect(config.providers[0].apiKey?.reveal() == "sk-test-123456")
        #expect(config.providers[0].apiKey?.description.contains("sk-") == false)
        #expect(config.providers[1].baseURL == "http://10.0.0.5:8000/v1")
        let catalog = ModelCatalog(models: config.models)
        #expect(catalog.group(for: "g")?.deployments.first?.upstreamModel == "gpt-4o")
        #expect(catalog.group(for: "openai/o3")?.deployments.first?.upstreamModel == "o3")
        #expect(catalog.group(for: "openai/") == nil)
    }

    @Test func reportsEveryProblemWithLocationAndHint() {
        let root = Node.map([
            ("server", Node.map([("prot", Node.scalar("9000", line: 2))])),
            (
                "providers",
                Node.list([
                    Node.map([("name", Node.scalar("a")), ("type", Node.scalar("opnai", line: 5)), ("api_key", Node.scalar("env:MISSING"))], line: 4)
                ])
            ),
            ("models", Node.list([Node.map([("name", Node.scalar("m")), ("provider", Node.scalar("nope"))], line: 9)])),
        ])
        let outcome = loader.load(root, source: "test.yaml")
        #expect(outcome.config == nil)
        let messages = outcome.errors.map(\.description)
        #expect(messages.contains { $0.contains("test.yaml:2:1") && $0.contains("unknown key 'server.prot'") && $0.contains("did you mean 'port'") })
        #expect(messages.contains { $0.contains("unknown type 'opnai'") && $0.contains("did you mean 'openai'") })
        #expect(messages.contains { $0.contains("MISSING is not set") })
        #expect(messages.contains { $0.contains("test.yaml:9:1") && $0.contains("unknown provider 'nope'") })
        #expect(outcome.errors.count >= 4)
    }

    @Test func rejectsDuplicateModelNamesAndBadValues() {
        let root = Node.map([
            ("server", Node.map([("port", Node.scalar("70000")), ("max_body_size", Node.scalar("lots")), ("request_timeout", Node.scalar("-1s"))])),
            ("providers", Node.list([Node.map([("name", Node.scalar("m")), ("type", Node.scalar("mock"))])])),
            (
                "models",
                Node.list([
                    Node.map([("name", Node.scalar("a")), ("provider", Node.scalar("m"))]),
                    Node.map([("name", Node.scalar("b")), ("provider", Node.scalar("m")), ("aliases", Node.list([Node.scalar("a")]))]),
                ])
            ),
        ])
        let errors = loader.load(root, source: "test.yaml").errors.map(\.message)
        #expect(errors.contains { $0.contains("out of range") })
        #expect(errors.contains { $0.contains("max_body_size must be a size") })
        #expect(errors.contains { $0.contains("request_timeout must be a positive duration") })
        #expect(errors.contains { $0.contains("'a' is defined twice") })
    }

    @Test func refusesAnOpenNonLoopbackListener() {
        let root = validRoot(server: [("host", Node.scalar("0.0.0.0"))])
        let errors = loader.load(root, source: "test.yaml").errors.map(\.message)
        #expect(errors.contains { $0.contains("no master key is set") })
        let allowed = validRoot(server: [("host", Node.scalar("0.0.0.0")), ("allow_unauthenticated", Node.scalar("true"))])
        #expect(loader.load(allowed, source: "test.yaml").config != nil)
    }

    @Test func warnsAboutInlineKeys() {
        let root = Node.map([
            (
                "providers",
                Node.list([Node.map([("name", Node.scalar("a")), ("type", Node.scalar("openai")), ("api_key", Node.scalar("sk-inline-secret"))])])
            )
        ])
        let outcome = loader.load(root, source: "test.yaml")
        #expect(outcome.config != nil)
        #expect(outcome.warnings.count == 1)
        #expect(!outcome.warnings[0].description.contains("sk-inline-secret"))
    }

    @Test func parsesUnits() {
        #expect(ConfigUnits.parseDuration("250ms") == .milliseconds(250))
        #expect(ConfigUnits.parseDuration("30s") == .seconds(30))
        #expect(ConfigUnits.parseDuration("5m") == .seconds(300))
        #expect(ConfigUnits.parseDuration("1.5") == .milliseconds(1500))
        #expect(ConfigUnits.parseDuration("soon") == nil)
        #expect(ConfigUnits.parseByteSize("16MiB") == 16 * 1024 * 1024)
        #expect(ConfigUnits.parseByteSize("1MB") == 1_000_000)
        #expect(ConfigUnits.parseByteSize("2048") == 2048)
    }

    @Test func embeddedDefaultAddsProvidersForKeysInTheEnvironment() {
        let withKey = ConfigLoader(environment: ["OPENAI_API_KEY": "sk-abc", "GROQ_API_KEY": "gsk"], fileExists: { _ in false }).embeddedDefault()
        #expect(withKey.providers.map(\.name) == ["mock", "openai", "groq"])
        let catalog = ModelCatalog(models: withKey.models)
        #expect(catalog.group(for: "gpt-4o")?.owner == "openai")
        #expect(catalog.group(for: "groq/llama-3.1-8b-instant")?.deployments.first?.upstreamModel == "llama-3.1-8b-instant")
        #expect(catalog.group(for: "mock")?.owner == "mock")
        let offline = ConfigLoader(environment: [:], fileExists: { _ in false }).embeddedDefault()
        #expect(offline.providers.map(\.name) == ["mock"])
    }
}

import Testing

@testable import SwitchyardCore

@Suite struct RoutePlannerTests {
    static let now = Double(Context.parseDate("2026-11-27T12:00:00Z")!)  // a Friday

    func model(_ name: String, provider: String = "p", version: String? = nil, _ configure: (inout ModelConfig) -> Void = { _ in }) -> ModelConfig {
        var model = ModelConfig(name: name, provider: provider, upstreamModel: "\(name)-upstream")
        model.version = version
        configure(&model)
        return model
    }

    func planner(_ models: [ModelConfig], rules: [RoutingRule] = []) -> RoutePlanner {
        var config = GatewayConfig(source: "test")
        config.models = models
        config.routingRules = rules
        return RoutePlanner(config: config, catalog: ModelCatalog(models: models))
    }

    func request(_ json: String) throws -> OpenAIRequest {
        try OpenAIRequest(endpoint: .chatCompletions, body: Array(json.utf8))
    }

    func chat(_ text: String, model: String = "chat", extra: String = "") throws -> OpenAIRequest {
        try request(#"{"model":"\#(model)","messages":[{"role":"user","content":"\#(text)"}]\#(extra)}"#)
    }

    func plan(
        _ planner: RoutePlanner, _ request: OpenAIRequest, identity: Identity = .master, headers: [HeaderField] = [], at time: Double = now
    ) throws -> RoutePlan {
        try planner.plan(request, identity: identity, headers: headers, unixTime: time, random: { 0.5 })
    }

    func rule(_ name: String, to target: String, _ configure: (inout RuleConditions) -> Void) -> RoutingRule {
        var conditions = RuleConditions()
        configure(&conditions)
        return RoutingRule(name: name, conditions: conditions, routeTo: target, regions: nil)
    }

    @Test func rulesMatchInOrderOnHeadersContentAndParameters() throws {
        let models = ["chat", "premium", "vision", "translator", "support", "cold", "json"].map { model($0) }
        let rules = [
            rule("premium-header", to: "premium") { $0.headers = ["x-tier": "premium"] },
            rule("images", to: "vision") { $0.hasImages = true },
            rule("translate", to: "translator") { $0.messagePattern = "(?i)\\btranslate\\b" },
            rule("refunds", to: "support") { $0.keywords = ["refund", "invoice"] },
            rule("creative", to: "cold") { $0.params = ["temperature": ">1.0"] },
            rule("json", to: "json") { $0.jsonMode = true },
        ]
        let planner = planner(models, rules: rules)
        #expect(try plan(planner, chat("hi"), headers: [HeaderField("X-Tier", "premium")]).group.name == "premium")
        #expect(try plan(planner, chat("hi"), headers: [HeaderField("x-tier", "basic")]).group.name == "chat")
        let image = try request(
            #"{"model":"chat","messages":[{"role":"user","content":[{"type":"text","text":"what is it"},{"type":"image_url","image_url":{"url":"data:x"}}]}]}"#
        )
        #expect(try plan(planner, image).group.name == "vision")
        let translated = try plan(planner, chat("Please Translate this"))
        #expect(translated.group.name == "translator")
        #expect(translated.rule == "translate")
        #expect(try plan(planner, chat("translated already")).group.name == "chat", "the regex needs a word boundary")
        #expect(try plan(planner, chat("Where is my REFUND?")).group.name == "support")
        #expect(try plan(planner, chat("poem", extra: #","temperature":1.5"#)).group.name == "cold")
        #expect(try plan(planner, chat("poem", extra: #","temperature":0.5"#)).group.name == "chat")
        #expect(try plan(planner, chat("x", extra: #","response_format":{"type":"json_object"}"#)).group.name == "json")
    }

    @Test func rulesMatchIdentityTimeLanguageAndPromptSize() throws {
        let models = ["chat", "research", "night", "german", "long"].map { model($0) }
        var night = TimeWindow()
        night.fromMinute = 22 * 60
        night.toMinute = 6 * 60
        let rules = [
            rule("research-team", to: "research") { $0.metadata = ["team": "research"] },
            rule("night", to: "night") { $0.time = night },
            rule("german", to: "german") { $0.languages = ["de"] },
            rule("long", to: "long") { $0.minPromptTokens = 1000 },
        ]
        let planner = planner(models, rules: rules)
        var researcher = Identity(kind: .user, subject: "u1", teamID: "research")
        #expect(try plan(planner, chat("hi"), identity: researcher).group.name == "research")
        researcher.teamID = "sales"
        #expect(try plan(planner, chat("hi"), identity: researcher).group.name == "chat")
        #expect(try plan(planner, chat("hi"), at: Self.now + 11 * 3600).group.name == "night", "23:00 UTC")
        #expect(try plan(planner, chat("hi"), at: Self.now - 7 * 3600).group.name == "night", "05:00 UTC")
        #expect(try plan(planner, chat("Ich habe eine Frage und bitte um eine Antwort, wie ist das Wetter?")).group.name == "german")
        #expect(try plan(planner, chat(String(repeating: "lorem ipsum ", count: 500))).group.name == "long")
    }

    @Test func rulesCanRestrictRegionsAndIdentitiesNarrowThem() throws {
        var residency = RoutingRule(name: "eu", conditions: RuleConditions(), routeTo: nil, regions: ["eu", "eu-west"])
        residency.conditions.headers = ["x-residency": "eu"]
        let planner = planner([model("chat")], rules: [residency])
        #expect(try plan(planner, chat("x"), headers: [HeaderField("x-residency", "eu")]).regions == ["eu", "eu-west"])
        var restricted = Identity.master
        restricted.allowedRegions = ["eu-west"]
        #expect(try plan(planner, chat("x"), identity: restricted, headers: [HeaderField("x-residency", "eu")]).regions == ["eu-west"])
        #expect(try plan(planner, chat("x"), identity: restricted).regions == ["eu-west"])
    }

    @Test func versionsPinDeprecateAndRetire() throws {
        let retired = Double(Context.parseDate("2026-01-01")!)
        let future = Context.parseDate("2027-03-31")!
        let models = [
            model("summarizer", version: "1") {
                $0.deprecation = Deprecation(deprecatedSince: nil, sunset: Int64(retired), successor: "summarizer@3")
            },
            model("summarizer", version: "2") { $0.deprecation = Deprecation(deprecatedSince: nil, sunset: future, successor: "summarizer@3") },
            model("summarizer", version: "3") { $0.isDefaultVersion = true },
            model("summarizer", version: "4"),
            model("legacy") { $0.deprecation = Deprecation(deprecatedSince: nil, sunset: Int64(retired), successor: nil) },
        ]
        let planner = planner(models)
        #expect(try plan(planner, chat("x", model: "summarizer")).group.qualifiedName == "summarizer@3", "the default version")
        #expect(try plan(planner, chat("x", model: "summarizer@4")).group.qualifiedName == "summarizer@4")
        let deprecated = try plan(planner, chat("x", model: "summarizer@2"))
        #expect(deprecated.group.qualifiedName == "summarizer@2")
        #expect(deprecated.headers.contains(HeaderField("Sunset", "Wed, 31 Mar 2027 00:00:00 GMT")))
        #expect(deprecated.headers.contains { $0.name == "Deprecation" })
        let redirected = try plan(planner, chat("x", model: "summarizer@1"))
        #expect(redirected.group.qualifiedName == "summarizer@3")
        #expect(redirected.redirectedFrom == "summarizer@1")
        #expect(throws: GatewayError.self) { try plan(planner, chat("x", model: "legacy")) }
        do {
            _ = try plan(planner, chat("x", model: "legacy"))
        } catch let error as GatewayError {
            #expect(error.status == 410)
            #expect(error.code == .modelSunset)
            #expect(error.message.contains("Thu, 01 Jan 2026"))
        }
    }

    @Test func experimentsAreStickyPerUserAndFollowTheWeights() throws {
        let models = [
            model("control"), model("canary"),
            model("chat", provider: "") {
                $0.deployments = []
                $0.experiment = ExperimentConfig(
                    name: "canary-test", sticky: .user,
                    arms: [.init(name: "control", model: "control", weight: 80), .init(name: "canary", model: "canary", weight: 20)])
            },
        ]
        let planner = planner(models)
        let first = try plan(planner, chat("x", extra: #","user":"alice""#))
        for _ in 0..<20 {
            let again = try planner.plan(
                chat("x", extra: #","user":"alice""#), identity: .master, headers: [], unixTime: Self.now, random: { Double.random(in: 0..<1) })
            #expect(again.arm == first.arm)
            #expect(again.headers.contains(HeaderField("x-switchyard-experiment", "canary-test=\(first.arm!)")))
        }
        var canary = 0
        for index in 0..<2000 {
            if try plan(planner, chat("x", extra: #","user":"user-\#(index)""#)).arm == "canary" { canary += 1 }
        }
        #expect(abs(canary - 400) < 80, "about 20% of users land on the canary")
    }

    @Test func unknownModelsSuggestNames() throws {
        let planner = planner([model("gpt-4o")])
        do {
            _ = try plan(planner, chat("x", model: "gpt-4"))
            Issue.record("expected 404")
        } catch let error as GatewayError {
            #expect(error.status == 404)
            #expect(error.message.contains("gpt-4o"))
        }
    }

    @Test func datesAndTimeWindows() {
        #expect(Context.parseDate("1970-01-01") == 0)
        #expect(Context.parseDate("2000-03-01T00:00Z") == 951_868_800)
        #expect(Context.parseDate("2026-13-01") == nil)
        #expect(Context.parseDate("2026-12-01T10:00") == nil, "times must be UTC")
        #expect(HTTPDate.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        var weekdays = TimeWindow()
        weekdays.days = [1, 2, 3, 4, 5]
        weekdays.fromMinute = 9 * 60
        weekdays.toMinute = 17 * 60
        weekdays.utcOffsetMinutes = 60
        #expect(weekdays.contains(unixTime: Self.now), "Friday 13:00 at UTC+1")
        #expect(!weekdays.contains(unixTime: Self.now + 86_400), "Saturday")
        #expect(!weekdays.contains(unixTime: Self.now + 5 * 3600), "18:00 local")
    }

    @Test func languagesAndSimilarity() {
        #expect(LanguageDetector.detect("The quick brown fox is what you need for this") == "en")
        #expect(LanguageDetector.detect("¿Qué es esto? Es una pregunta para el sistema") == "es")
        #expect(LanguageDetector.detect("这是一个测试") == "zh")
        #expect(LanguageDetector.detect("これはテストです") == "ja")
        #expect(LanguageDetector.detect("Привет, как дела?") == "ru")
        #expect(LanguageDetector.detect("12345") == nil)
        #expect(TextSimilarity.cosine("the cat sat", "the cat sat") > 0.999)
        #expect(TextSimilarity.cosine("the cat sat", "a dog ran") == 0)
        let partial = TextSimilarity.cosine("the cat sat on the mat", "the cat lay on the mat")
        #expect(partial > 0.7 && partial < 1)
    }
}

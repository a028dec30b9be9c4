import Crypto

/// The guardrails of one configuration generation, compiled once (detectors built, lexicons
/// indexed, regexes compiled) and shared by every request of that generation.
public struct GuardrailEngine: Sendable {
    /// A class: a request copies the rails in its scope (and the output side keeps them), which
    /// costs one reference count per rail instead of one per field of the rule it holds.
    public final class Rail: Sendable {
        public let rule: GuardrailRule
        /// nil for webhook guardrails (they are asynchronous).
        public let detector: (any TextDetector)?
        let conditions: CompiledConditions?
        public let threshold: Double
        let messageRoles: Set<String>?
        /// Its place in the engine and the engine's memo of input findings (see
        /// ``inputFindings(in:role:digest:)``).
        let index: Int
        let memo: DigestMemo<[Finding]>?
        /// The memo key's parts for this rail and the common roles, hashed once (see
        /// ``inputFindings(in:role:digest:)``).
        let memoHashers: [String: SHA256]

        init(_ rule: GuardrailRule, index: Int = 0, memo: DigestMemo<[Finding]>? = nil) {
            self.rule = rule
            self.index = index
            self.memo = memo
            switch rule.detector {
            case .pii, .secrets:
                let all = rule.detector == .pii ? PIIDetector.Entity.personal : PIIDetector.Entity.secrets
                let chosen = rule.entities.map { names in all.filter { names.contains($0.rawValue) } } ?? all
                detector = PIIDetector(entities: Set(chosen))
                threshold = rule.threshold ?? 1
            case .injection:
                detector = InjectionDetector(learnedWeight: rule.learned ? rule.learnedWeight ?? InjectionDetector.defaultLearnedWeight : 0)
                threshold = rule.threshold ?? InjectionDetector.defaultThreshold
            case .content:
                detector = ContentDetector(categories: rule.categories ?? ContentDetector.categories, extra: rule.extraPhrases)
                threshold = rule.threshold ?? 1
            case .words:
                detector = WordListDetector(words: rule.words)
                threshold = rule.threshold ?? 1
            case .regex:
                detector = RegexDetector(patterns: rule.patterns.compactMap { item in (try? Regex(item.pattern)).map { (item.name, $0) } })
                threshold = rule.threshold ?? 1
            case .webhook, .jsonSchema:
                detector = nil
                threshold = 1
            }
            conditions = rule.conditions.map(CompiledConditions.init)
            messageRoles = rule.effectiveMessageRoles
            memoHashers =
                memo == nil
                ? [:]
                : Dictionary(uniqueKeysWithValues: ["system", "user", "assistant", "tool", "developer", "function"].map { role in
                    (role, DigestMemo<[Finding]>.hashing([String(index), role]))
                })
        }

        /// The findings that make this guardrail fire in `text` (empty when it does not):
        /// every entity or category whose summed score reaches the threshold.
        public func triggered(_ findings: [Finding], carried: [String: Double] = [:]) -> [Finding] {
            guard !findings.isEmpty else { return [] }
            var totals = carried
            for finding in findings { totals[finding.entity, default: 0] += finding.score }
            return findings.filter { (totals[$0.entity] ?? 0) >= threshold - 1e-9 }
        }

        func checks(role: String) -> Bool { messageRoles?.contains(role) ?? true }

        /// Texts shorter than this are scanned every time (a digest would cost about as much).
        static let memoMinimumBytes = 64

        /// The detector's findings in a text of a request (nothing before it): the ones found
        /// when this guardrail of this configuration scanned the same text in the same role
        /// before, else a fresh scan (remembered from the text's second sight on: most texts come
        /// once). Built-in detectors read nothing but the text and the role, so a repeated text
        /// (the system prompt of every request of an app, the history a chat resends with each
        /// turn) is not read again. `reused` says which it was.
        ///
        /// `digest`: the text's SHA-256, worked out here when the memo needs it and kept for the
        /// next guardrail that reads the same text (nil again once a guardrail changes it).
        func inputFindings(in text: [UInt8], role: String, digest: inout SHA256Digest?) -> (findings: [Finding], reused: Bool) {
            guard let detector else { return ([], false) }
            guard let memo, text.count >= Self.memoMinimumBytes else { return (detector.findings(in: text, context: [], role: role), false) }
            let textDigest = digest ?? SHA256.hash(data: text)
            digest = textDigest
            var hasher = memoHashers[role] ?? DigestMemo<[Finding]>.hashing([String(index), role])
            let key = DigestMemo<[Finding]>.key(hasher: &hasher, digest: textDigest)
            if let known = memo.value(key) { return (known, true) }
            let findings = detector.findings(in: text, context: [], role: role)
            memo.store(key, findings)
            return (findings, false)
        }

        /// Whether the rule's `keys`, `teams`, `orgs`, `users` and `roles` scope covers the caller.
        func covers(_ identity: Identity) -> Bool {
            if let keys = rule.keys, !keys.contains(identity.subject) { return false }
            if let teams = rule.teams, !teams.contains(identity.teamID ?? "") { return false }
            if let orgs = rule.orgs, !orgs.contains(identity.organizationID ?? "") { return false }
            if let users = rule.users, !users.contains(identity.userID ?? identity.endUser ?? "") { return false }
            if let roles = rule.roles, identity.roles.isDisjoint(with: roles) { return false }
            return true
        }
    }

    public let rails: [Rail]
    public var isEmpty: Bool { rails.isEmpty }
    /// Texts whose findings are remembered, per configuration (about 100 bytes each; see
    /// ``Rail/inputFindings(in:role:digest:)``): a new configuration starts an empty memo.
    public static let memoCapacity = 20_000

    public init(settings: GuardrailSettings) {
        let rules = settings.rules.filter(\.enabled)
        // Without guardrails, no table (the engine of every configuration is built).
        let memo = DigestMemo<[Finding]>(capacity: rules.isEmpty ? 0 : Self.memoCapacity, keepsOnSecondSight: !rules.isEmpty)
        rails = rules.enumerated().map { Rail($1, index: $0, memo: memo) }
    }

    /// The guardrails whose scope covers this request.
    public func applicable(
        endpoint: String, request: OpenAIRequest, identity: Identity, group: ModelGroup, headers: [HeaderField], unixTime: Double
    ) -> [Rail] {
        guard !rails.isEmpty else { return [] }
        return rails.filter { rail in
            let rule = rail.rule
            if let endpoints = rule.endpoints, !endpoints.contains(endpoint) { return false }
            if let models = rule.models,
                !models.contains(where: { pattern in
                    [request.model, group.name, group.qualifiedName].contains { name in
                        pattern.hasSuffix("*") ? name.hasPrefix(String(pattern.dropLast())) : name == pattern
                    }
                })
            {
                return false
            }
            if !rail.covers(identity) { return false }
            if let conditions = rail.conditions {
                let features = conditions.needsFeatures ? PromptFeatures(request: request) : nil
                if !conditions.matches(request: request, identity: identity, headers: headers, features: features, unixTime: unixTime) {
                    return false
                }
            }
            return true
        }
    }

    /// `[EMAIL]`, `[CREDIT_CARD]`, `[REGEX_NAME]`.
    public static func label(for entity: String) -> String {
        if entity.hasPrefix("injection") { return "REMOVED: PROMPT INJECTION" }
        if entity.hasPrefix("content.") { return "REMOVED: " + entity.dropFirst("content.".count).uppercased() }
        if entity == "word" { return "REDACTED" }
        // `pii.email` → `PII_EMAIL`, a byte at a time for ASCII names (this runs for every
        // masked value); a configured regex may have any name.
        guard entity.utf8.allSatisfy({ $0 < 0x80 }) else { return entity.replacingOccurrences(of: ".", with: "_").uppercased() }
        return String(decoding: entity.utf8.map { $0 == UInt8(ascii: ".") ? UInt8(ascii: "_") : $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }, as: UTF8.self)
    }

    /// `text` with each finding replaced by its label (`[EMAIL]`).
    public static func mask(_ text: [UInt8], _ findings: [Finding]) -> [UInt8] {
        rewrite(text, findings) { finding, _ in Array("[\(label(for: finding.entity))]".utf8) }
    }

    /// Replaces each finding's range (sorted, overlaps merged) with its replacement.
    public static func rewrite(_ text: [UInt8], _ findings: [Finding], replacement: (Finding, [UInt8]) -> [UInt8]) -> [UInt8] {
        let sorted = findings.sorted {
            $0.range.lowerBound < $1.range.lowerBound || $0.range.lowerBound == $1.range.lowerBound && $0.range.count > $1.range.count
        }
        var output: [UInt8] = []
        output.reserveCapacity(text.count)
        var cursor = 0
        for finding in sorted where finding.range.lowerBound >= cursor && finding.range.upperBound <= text.count {
            output.append(contentsOf: text[cursor..<finding.range.lowerBound])
            output.append(contentsOf: replacement(finding, Array(text[finding.range])))
            cursor = finding.range.upperBound
        }
        output.append(contentsOf: text[cursor...])
        return output
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

/// Originals replaced by placeholders on the way in, put back on the way out. The same value
/// gets the same placeholder throughout a request (`[EMAIL_1]` twice means the same address).
public struct Pseudonyms: Sendable {
    public private(set) var byOriginal: [[UInt8]: [UInt8]] = [:]
    public private(set) var byPlaceholder: [[UInt8]: [UInt8]] = [:]
    private var counters: [String: Int] = [:]
    public var isEmpty: Bool { byPlaceholder.isEmpty }
    /// The longest placeholder, for streams: text that may still become one is held back.
    public private(set) var longest = 0

    public init() {}

    public mutating func placeholder(for original: [UInt8], label: String) -> [UInt8] {
        if let existing = byOriginal[original] { return existing }
        counters[label, default: 0] += 1
        let placeholder = Array("[\(label)_\(counters[label]!)]".utf8)
        byOriginal[original] = placeholder
        byPlaceholder[placeholder] = original
        longest = max(longest, placeholder.count)
        return placeholder
    }

    /// Puts the originals back; `escapeForJSON` for text inside a JSON string (tool arguments).
    public func restore(_ text: [UInt8], escapeForJSON: Bool = false) -> [UInt8] {
        guard !byPlaceholder.isEmpty, text.contains(UInt8(ascii: "[")) else { return text }
        var output: [UInt8] = []
        output.reserveCapacity(text.count)
        var index = 0
        while index < text.count {
            if text[index] == UInt8(ascii: "["), let close = text[index..<min(text.count, index + longest)].firstIndex(of: UInt8(ascii: "]")),
                let original = byPlaceholder[Array(text[index...close])]
            {
                if escapeForJSON {
                    let quoted = JSONWriter.quoted(String(decoding: original, as: UTF8.self))
                    output.append(contentsOf: quoted.dropFirst().dropLast())
                } else {
                    output.append(contentsOf: original)
                }
                index = close + 1
                continue
            }
            output.append(text[index])
            index += 1
        }
        return output
    }
}

/// What a guardrail decided about one request, without the text that caused it.
public struct GuardrailDecision: Sendable, Equatable {
    public var name: String { didSet { summary = Self.summary(name, action, entities, score) } }
    /// `input` or `output`.
    public var direction: String
    /// The action taken: `block`, `mask`, `pseudonymize`, `flag`, `route`, or `error` (a webhook
    /// that failed open).
    public var action: String { didSet { summary = Self.summary(name, action, entities, score) } }
    /// Entity or category → number of findings (`email: 2`, `injection.override: 1`).
    public var entities: [String: Int] { didSet { summary = Self.summary(name, action, entities, score) } }
    /// The highest summed score, for scored detectors.
    public var score: Double? { didSet { summary = Self.summary(name, action, entities, score) } }
    /// `pii=mask(email:2,phone:1)`, `injection=block(injection.override;score=1.4)`: the
    /// decision as the `x-switchyard-guardrails` header, the access log, the usage record and
    /// the trace give it, worked out once (when the decision is made or changed) rather than
    /// by each of them.
    public private(set) var summary: String

    /// Whether the decision goes to the audit trail (the guardrail's `audit` setting).
    public var audited = true

    public init(name: String, direction: String, action: String, entities: [String: Int] = [:], score: Double? = nil) {
        self.name = name
        self.direction = direction
        self.action = action
        self.entities = entities
        self.score = score
        summary = Self.summary(name, action, entities, score)
    }

    init(rail: GuardrailEngine.Rail, direction: String, findings: [Finding], action: String? = nil) {
        var entities: [String: Int] = [:]
        var totals: [String: Double] = [:]
        for finding in findings {
            entities[finding.entity, default: 0] += 1
            totals[finding.entity, default: 0] += finding.score
        }
        let scored = rail.rule.detector == .injection || rail.rule.detector == .content
        self.init(
            name: rail.rule.name, direction: direction, action: action ?? rail.rule.action.rawValue, entities: entities,
            score: scored ? ((totals.values.max() ?? 0) * 100).rounded() / 100 : nil)
        audited = rail.rule.audits(self.action)
    }

    static func summary(_ name: String, _ action: String, _ entities: [String: Int], _ score: Double?) -> String {
        var parts = entities.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }
        if let score { parts.append("score=\(score)") }
        return "\(name)=\(action)(\(parts.joined(separator: ",")))"
    }

    /// The reason given to a client whose request or answer was blocked.
    public var reason: String {
        let what = entities.keys.sorted().joined(separator: ", ")
        if let score { return "\(what.isEmpty ? "score" : what) (score \(score))" }
        return what.isEmpty ? "refused" : "found \(what)"
    }
}

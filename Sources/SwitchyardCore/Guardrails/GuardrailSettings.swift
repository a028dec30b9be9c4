import NIOCore

/// `guardrails:` — checks on prompts and answers, each with a detector, a direction, a scope
/// and an action. They run in the order written; every decision is recorded (headers, logs,
/// metrics, audit trail) without the text that caused it.
public struct GuardrailSettings: Sendable {
    public var rules: [GuardrailRule] = []
    public init() {}
}

public struct GuardrailRule: Sendable {
    public enum Detector: String, Sendable, CaseIterable {
        /// Personal data (`entities` picks a subset of ``PIIDetector/Entity/personal``).
        case pii
        /// Credentials and secrets (``PIIDetector/Entity/secrets``).
        case secrets
        /// Prompt injection and jailbreak heuristics.
        case injection
        /// Harmful-content categories.
        case content
        /// Configured words and phrases (banned topics, competitors).
        case words
        /// Configured regular expressions.
        case regex
        /// An external service decides (POST the text, get allow/block/mask back).
        case webhook
        /// Answers to requests with `response_format: json_schema` must match the schema
        /// (non-streaming answers): `retry` once with the errors, `block` (an error), or `flag`.
        case jsonSchema = "json_schema"
    }

    public enum Direction: String, Sendable, CaseIterable {
        case input, output, both
        public var checksInput: Bool { self != .output }
        public var checksOutput: Bool { self != .input }
    }

    public enum Action: String, Sendable, CaseIterable {
        /// Refuse: 400 for a prompt, `content_filter` for an answer (the stream ends there).
        case block
        /// Replace what was found with `[EMAIL]`-style labels.
        case mask
        /// Replace with stable placeholders (`[EMAIL_1]`) and put the originals back into the answer.
        case pseudonymize
        /// Let it through; record the decision.
        case flag
        /// Send the request to `route_to` instead (a model allowed to see such data).
        case route
        /// `json_schema` only: ask the model once more with the validation errors.
        case retry
    }

    public var name: String
    public var detector: Detector
    public var direction: Direction = .input
    public var action: Action = .block
    public var routeTo: String?
    /// Score at which the guardrail fires (per entity or category); detector default when nil.
    public var threshold: Double?
    /// `pii`/`secrets`: the entity types to look for (default: all of the detector's).
    public var entities: [String]?
    /// `content`: the categories to check (default: all built-in ones).
    public var categories: [String]?
    /// `content`: more phrases per category (`extra: {violence: [...]}`).
    public var extraPhrases: [String: [String]] = [:]
    /// `words`: the list.
    public var words: [String] = []
    /// `regex`: name → pattern.
    public var patterns: [(name: String, pattern: String)] = []
    public var webhook: GuardrailWebhookSettings?
    /// `injection`: a model (through this gateway) asked about texts the heuristics let pass.
    public var classifier: InjectionClassifierSettings?
    /// `injection`: whether the learned stage (``InjectionLinearModel``, in process) adds to
    /// the rules' score (`learned: on`, the default).
    public var learned = true
    /// `injection`: the most the learned stage adds to a score (default
    /// ``InjectionDetector/defaultLearnedWeight``).
    public var learnedWeight: Double?
    /// Message roles whose text is checked on input (default: all, `injection`: user and tool).
    public var messageRoles: [String]?
    /// `non_text: allow`: let through content this guardrail cannot read (images, audio, files,
    /// a tool result's documents) in the roles it checks. Default (`refuse`): a request that
    /// holds such content is refused with 400 `unscannable_content` while the guardrail applies
    /// (unless its action is `flag`).
    public var allowsNonText = false
    /// Scope; nil lists mean every value.
    public var endpoints: [String]?
    public var models: [String]?
    public var keys: [String]?
    public var teams: [String]?
    public var orgs: [String]?
    public var users: [String]?
    public var roles: [String]?
    /// Any routing-rule condition (`when:`), e.g. headers or metadata.
    public var conditions: RuleConditions?
    /// Streams: bytes held back so that a match split across chunks is still caught.
    public var streamWindow = 128
    public var enabled = true
    /// Whether decisions go to the audit trail; default: blocks, flags, routes and webhook
    /// errors do, routine masking and pseudonymizing do not (they are in logs and metrics).
    public var audit: Bool?
    public var location: ConfigLocation?

    /// Whether a decision with this action is written to the audit trail.
    public func audits(_ action: String) -> Bool {
        audit ?? !(action == "mask" || action == "pseudonymize")
    }

    public init(name: String, detector: Detector) {
        self.name = name
        self.detector = detector
    }

    /// The roles checked on input when `messages:` is not given.
    public var effectiveMessageRoles: Set<String>? {
        if let messageRoles { return Set(messageRoles) }
        return detector == .injection ? ["user", "tool", "function"] : nil
    }
}

public struct GuardrailWebhookSettings: Sendable {
    public var url: String
    public var timeout: Duration = .seconds(2)
    /// What happens when the service fails or times out: allow (fail open) or block (fail closed).
    public var failOpen = false
    public var headers: [HeaderField] = []
    public init(url: String) { self.url = url }
}

/// POSTs to an HTTP endpoint: webhook guardrails, budget alerts, the request log's sink and the
/// trace exporter. The server provides it (HTTP client); `nil` in the gateway means webhook
/// guardrails fail by their `on_error` setting.
public protocol WebhookClient: Sendable {
    /// POSTs `body` (JSON) to `url`; returns status and body, or throws on transport errors.
    func post(url: String, headers: [HeaderField], body: [UInt8], timeout: Duration) async throws -> (status: Int, body: [UInt8])
    /// The same with the body in a buffer (one the caller reuses for its next post).
    func post(url: String, headers: [HeaderField], buffer: ByteBuffer, timeout: Duration) async throws -> (status: Int, body: [UInt8])
}

extension WebhookClient {
    public func post(url: String, headers: [HeaderField], buffer: ByteBuffer, timeout: Duration) async throws -> (status: Int, body: [UInt8]) {
        try await post(url: url, headers: headers, body: Array(buffer: buffer), timeout: timeout)
    }
}

public struct InjectionClassifierSettings: Sendable {
    /// A configured model group, called through the gateway with the caller's identity.
    public var model: String
    /// Verdicts kept (by the text's SHA-256), so a repeated text costs one call.
    public var cacheSize = 10_000
    /// Texts shorter than this are not sent to the classifier.
    public var minLength = 16
    /// What to do when the classifier fails: allow (default) or block.
    public var failOpen = true
    public init(model: String) { self.model = model }
}

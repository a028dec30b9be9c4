/// `prompts:` — named templates, enforced system prompts with context injection, input
/// validation and response transformation.
public struct PromptSettings: Sendable {
    public var templates: [PromptTemplate] = []
    public var systemPrompts: [SystemPromptRule] = []
    public var validation: [ValidationRule] = []
    public var responses: [ResponseRule] = []
    public var isEmpty: Bool { templates.isEmpty && systemPrompts.isEmpty && validation.isEmpty && responses.isEmpty }
    public init() {}
}

/// Who a prompt rule applies to; nil lists mean everyone.
public struct PromptScope: Sendable, Equatable {
    public var models: [String]?
    public var keys: [String]?
    public var teams: [String]?
    public var orgs: [String]?
    public var endpoints: [String]?
    public init() {}

    public func matches(model: String, identity: Identity, endpoint: String) -> Bool {
        if let models, !models.contains(where: { $0.hasSuffix("*") ? model.hasPrefix(String($0.dropLast())) : $0 == model }) { return false }
        if let keys, !keys.contains(identity.subject) { return false }
        if let teams, !teams.contains(identity.teamID ?? "") { return false }
        if let orgs, !orgs.contains(identity.organizationID ?? "") { return false }
        if let endpoints, !endpoints.contains(endpoint) { return false }
        return true
    }
}

public struct PromptVariable: Sendable {
    public enum Kind: String, Sendable, CaseIterable { case string, integer, number, boolean }
    public var name: String
    public var kind: Kind = .string
    public var required = false
    public var defaultValue: JSONValue?
    public var allowed: [JSONValue]?
    public var maxLength: Int?
    public init(name: String) { self.name = name }
}

public struct PromptTemplate: Sendable {
    public var name: String
    public var version: Int = 1
    /// The model the rendered request goes to; the request's own when nil.
    public var model: String?
    public var variables: [PromptVariable] = []
    /// `(role, content)` with `{{variable}}` and `{{context.path}}` placeholders.
    public var messages: [(role: String, content: String)] = []
    public var location: ConfigLocation?
    public init(name: String) { self.name = name }
}

public struct SystemPromptRule: Sendable {
    public enum Mode: String, Sendable, CaseIterable {
        /// A system message before everything the client sent.
        case prepend
        /// A system message after the client's own leading system messages.
        case append
        /// The client's system and developer messages are dropped; only this one remains.
        case replace
    }
    public var name: String
    public var mode: Mode = .prepend
    public var content: String
    public var scope = PromptScope()
    public init(name: String, content: String) {
        self.name = name
        self.content = content
    }
}

public struct ValidationRule: Sendable {
    public var name: String
    public var scope = PromptScope()
    public var maxMessages: Int?
    public var maxPromptTokens: Int?
    /// Fields that must be present (`user`, `metadata.project`).
    public var requiredFields: [String] = []
    /// Top-level parameters allowed besides `model`, `messages` and `stream`; nil allows all.
    public var allowedParameters: [String]?
    /// JSON Schema for the request's `metadata` object.
    public var metadataSchema: JSONValue?
    public init(name: String) { self.name = name }
}

public struct ResponseRule: Sendable {
    public var name: String
    public var scope = PromptScope()
    /// Dotted paths removed from answers (`system_fingerprint`, `choices.logprobs`).
    public var strip: [String] = []
    /// Adds `"switchyard": {"request_id", "provider", "model", ...}` to answers.
    public var addMetadata = false
    /// Wraps the answer as `{"data": <answer>, "meta": {...}}` (not SDK-compatible; opt in).
    public var envelope = false
    public init(name: String) { self.name = name }
}

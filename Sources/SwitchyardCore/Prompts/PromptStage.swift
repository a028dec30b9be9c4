/// Renders `{{placeholders}}`: template variables and context values about the caller.
///
/// Context paths: `identity.subject|team|org|user|end_user|kind`, `metadata.<key>` (attributes
/// of the key, its team, user and org in the directory), `header.<name>`, `date` (UTC
/// `yyyy-mm-dd`) and `datetime` (UTC ISO 8601). A missing context value renders as nothing.
public enum PromptRenderer {
    /// The names inside `{{ }}` in order of appearance.
    public static func placeholders(in text: String) -> [String] {
        var names: [String] = []
        var rest = Substring(text)
        while let open = rest.firstRange(of: "{{") {
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else { break }
            names.append(String(rest[open.upperBound..<close.lowerBound]).trimmingSpaces())
            rest = rest[close.upperBound...]
        }
        return names
    }

    public static func isContextPath(_ name: String) -> Bool {
        name == "date" || name == "datetime" || name.hasPrefix("identity.") || name.hasPrefix("metadata.") || name.hasPrefix("header.")
    }

    public struct Context: Sendable {
        public var identity: Identity
        public var headers: [HeaderField]
        public var unixTime: Double
        public init(identity: Identity, headers: [HeaderField], unixTime: Double) {
            self.identity = identity
            self.headers = headers
            self.unixTime = unixTime
        }

        func value(_ path: String) -> String? {
            if path == "date" { return CivilDate(daysSinceEpoch: CivilDate.days(Int64(unixTime))).iso }
            if path == "datetime" { return CivilDate.iso8601(Int64(unixTime)) }
            if path.hasPrefix("header.") {
                let name = path.dropFirst("header.".count).lowercased()
                return headers.first { $0.name.lowercased() == name }?.value
            }
            if path.hasPrefix("metadata.") { return identity.attributes[String(path.dropFirst("metadata.".count))] }
            switch path {
            case "identity.subject", "identity.key": return identity.subject
            case "identity.team": return identity.teamID
            case "identity.org": return identity.organizationID
            case "identity.user": return identity.userID
            case "identity.end_user": return identity.endUser
            case "identity.kind": return identity.kind.rawValue
            default: return nil
            }
        }
    }

    /// Replaces each placeholder with its variable or context value.
    public static func render(_ text: String, variables: [String: String], context: Context) -> String {
        guard text.contains("{{") else { return text }
        var output = ""
        var rest = Substring(text)
        while let open = rest.firstRange(of: "{{") {
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else { break }
            output += rest[..<open.lowerBound]
            let name = String(rest[open.upperBound..<close.lowerBound]).trimmingSpaces()
            output += variables[name] ?? context.value(name) ?? ""
            rest = rest[close.upperBound...]
        }
        output += rest
        return output
    }
}

/// The prompt stage of one configuration generation: template expansion and input
/// validation (before the request is parsed and planned), system-prompt enforcement (after
/// the input guardrails) and response transformation.
public struct PromptStage: Sendable {
    public let settings: PromptSettings
    /// Template versions by name, highest version first.
    let templates: [String: [PromptTemplate]]

    public init(settings: PromptSettings) {
        self.settings = settings
        var templates: [String: [PromptTemplate]] = [:]
        for template in settings.templates { templates[template.name, default: []].append(template) }
        self.templates = templates.mapValues { $0.sorted { $0.version > $1.version } }
    }

    public var isEmpty: Bool { settings.isEmpty }

    static let templatePrefix = "template/"
    static let templateHeader = "x-switchyard-template"

    /// The template a request names (`template/NAME[@VERSION]` as its model, or the header).
    func template(model: String?, headers: [HeaderField]) throws(GatewayError) -> PromptTemplate? {
        var reference: String?
        if let model, model.hasPrefix(Self.templatePrefix) { reference = String(model.dropFirst(Self.templatePrefix.count)) }
        if reference == nil { reference = headers.first { $0.name.lowercased() == Self.templateHeader }?.value }
        guard let reference else { return nil }
        let parts = reference.split(separator: "@", maxSplits: 1)
        let name = String(parts[0])
        guard let versions = templates[name] else {
            throw GatewayError.notFound(
                "No prompt template is named '\(name)'. Templates: \(templates.keys.sorted().joined(separator: ", ")).",
                code: .templateNotFound, param: "model")
        }
        if parts.count == 2 {
            guard let version = Int(parts[1]), let template = versions.first(where: { $0.version == version }) else {
                throw GatewayError.notFound(
                    "Template '\(name)' has no version '\(parts[1])'. Versions: \(versions.map { String($0.version) }.joined(separator: ", ")).",
                    code: .templateNotFound, param: "model")
            }
            return template
        }
        return versions[0]
    }

    /// Template expansion: returns the rewritten body (or nil when no template applies).
    /// The rendered messages come first, then any the client sent; `variables` is removed.
    public func expandTemplate(body: [UInt8], endpoint: Endpoint, context: PromptRenderer.Context) throws(GatewayError) -> (
        body: [UInt8], template: String
    )? {
        guard !templates.isEmpty, endpoint == .chatCompletions else { return nil }
        guard case .object(var object) = (try? JSONValue.parse(body)) ?? .null else { return nil }
        guard let template = try template(model: object["model"]?.stringValue, headers: context.headers) else { return nil }
        let label = "template '\(template.name)' v\(template.version)"
        let given = object["variables"]?.objectValue ?? JSONObject()
        if let raw = object["variables"], raw.objectValue == nil {
            throw GatewayError.invalidType(field: "variables", expected: "an object", found: raw.typeName)
        }
        var values: [String: String] = [:]
        for member in given.members where !template.variables.contains(where: { $0.name == member.key }) {
            throw GatewayError.invalidRequest(
                "Variable '\(member.key)' is not declared by \(label). Declared: \(template.variables.map(\.name).joined(separator: ", ")).",
                param: "variables.\(member.key)", code: .unknownVariable)
        }
        for variable in template.variables {
            guard let value = given[variable.name] ?? variable.defaultValue, !value.isNull else {
                if variable.required {
                    throw GatewayError.invalidRequest(
                        "Variable '\(variable.name)' is required by \(label).", param: "variables.\(variable.name)", code: .missingVariable)
                }
                continue
            }
            let text: String
            switch (variable.kind, value) {
            case (.string, .string(let string)): text = string
            case (.integer, .number(let number, let raw)) where number == number.rounded(): text = raw
            case (.number, .number(_, let raw)): text = raw
            case (.boolean, .bool(let flag)): text = flag ? "true" : "false"
            default:
                throw GatewayError.invalidRequest(
                    "Variable '\(variable.name)' of \(label) must be \(variable.kind == .integer ? "an integer" : "a \(variable.kind.rawValue)"), not \(value.typeName).",
                    param: "variables.\(variable.name)", code: .invalidVariable)
            }
            if let allowed = variable.allowed, !allowed.contains(value) {
                throw GatewayError.invalidRequest(
                    "Variable '\(variable.name)' of \(label) must be one of: \(allowed.map { $0.stringValue ?? $0.serialized() }.joined(separator: ", ")).",
                    param: "variables.\(variable.name)", code: .invalidVariable)
            }
            if let limit = variable.maxLength, text.count > limit {
                throw GatewayError.invalidRequest(
                    "Variable '\(variable.name)' of \(label) is longer than \(limit) characters.", param: "variables.\(variable.name)",
                    code: .invalidVariable)
            }
            values[variable.name] = text
        }
        var messages: [JSONValue] = template.messages.map { message in
            ["role": .string(message.role), "content": .string(PromptRenderer.render(message.content, variables: values, context: context))]
        }
        if let sent = object["messages"] {
            guard let list = sent.arrayValue else { throw GatewayError.invalidType(field: "messages", expected: "an array", found: sent.typeName) }
            messages += list
        }
        object["messages"] = .array(messages)
        object["variables"] = nil
        if let model = template.model ?? (object["model"]?.stringValue.flatMap { $0.hasPrefix(Self.templatePrefix) ? nil : $0 }) {
            object["model"] = .string(model)
        } else {
            throw GatewayError.invalidRequest(
                "\(label) names no model; send one in 'model' with the template header.", param: "model", code: .invalidValue)
        }
        return (JSONValue.object(object).serializedBytes(), "\(template.name)@\(template.version)")
    }

    /// Input validation rules in scope; the first violation is thrown with what is wrong.
    public func validate(_ request: OpenAIRequest, identity: Identity, endpoint: String, features: () -> PromptFeatures) throws(GatewayError) {
        for rule in settings.validation where rule.scope.matches(model: request.model, identity: identity, endpoint: endpoint) {
            if let limit = rule.maxMessages, let count = request.scan.value("messages")?.arrayValue?.count, count > limit {
                throw GatewayError.invalidRequest(
                    "This request has \(count) messages; at most \(limit) are allowed here (rule '\(rule.name)').", param: "messages",
                    code: .tooManyMessages)
            }
            if let limit = rule.maxPromptTokens {
                let tokens = features().estimatedPromptTokens
                if tokens > limit {
                    throw GatewayError.invalidRequest(
                        "The prompt has about \(tokens) tokens; at most \(limit) are allowed here (rule '\(rule.name)').", param: "messages",
                        code: .promptTooLong)
                }
            }
            for field in rule.requiredFields {
                var value: JSONValue? = request.scan.value(String(field.split(separator: ".")[0]))
                for part in field.split(separator: ".").dropFirst() { value = value?[String(part)] }
                if value == nil || value?.isNull == true || value?.stringValue?.isEmpty == true {
                    throw GatewayError.invalidRequest(
                        "'\(field)' is required here (rule '\(rule.name)').", param: field, code: .missingRequiredParameter)
                }
            }
            if let allowed = rule.allowedParameters {
                let always: Set<String> = ["model", "messages", "prompt", "input", "stream", "stream_options"]
                for member in request.scan.members where !always.contains(member.key) && !allowed.contains(member.key) {
                    throw GatewayError.invalidRequest(
                        "Parameter '\(member.key)' is not allowed here (rule '\(rule.name)'). Allowed: \((always.sorted() + allowed).joined(separator: ", ")).",
                        param: member.key, code: .parameterNotAllowed)
                }
            }
            if let schema = rule.metadataSchema {
                let metadata = request.scan.value("metadata") ?? .object(JSONObject())
                let errors = JSONSchemaValidator(schema: schema).errors(in: metadata)
                if let first = errors.first {
                    throw GatewayError.invalidRequest(
                        "'metadata' does not match the required schema: \(first.replacingOccurrences(of: "$", with: "metadata"))\(errors.count > 1 ? " (and \(errors.count - 1) more)" : "").",
                        param: "metadata", code: .invalidMetadata)
                }
            }
        }
    }

    /// System-prompt enforcement in scope, rendered with the caller's context. Returns the
    /// rewritten body, or nil when nothing applies.
    public func enforceSystemPrompts(body: [UInt8], model: String, endpoint: String, context: PromptRenderer.Context) -> [UInt8]? {
        let rules = settings.systemPrompts.filter { $0.scope.matches(model: model, identity: context.identity, endpoint: endpoint) }
        guard !rules.isEmpty, case .object(var object) = (try? JSONValue.parse(body)) ?? .null, var messages = object["messages"]?.arrayValue else {
            return nil
        }
        func isSystem(_ message: JSONValue) -> Bool { ["system", "developer"].contains(message["role"]?.stringValue ?? "") }
        for rule in rules {
            let message: JSONValue = ["role": "system", "content": .string(PromptRenderer.render(rule.content, variables: [:], context: context))]
            switch rule.mode {
            case .prepend:
                messages.insert(message, at: 0)
            case .append:
                let leading = messages.prefix(while: isSystem).count
                messages.insert(message, at: leading)
            case .replace:
                messages.removeAll(where: isSystem)
                messages.insert(message, at: 0)
            }
        }
        object["messages"] = .array(messages)
        return JSONValue.object(object).serializedBytes()
    }

    /// Response transformation for a complete answer; nil when no rule applies.
    public func transformResponse(_ body: [UInt8], model: String, identity: Identity, endpoint: String, metadata: JSONObject) -> [UInt8]? {
        let rules = settings.responses.filter { $0.scope.matches(model: model, identity: identity, endpoint: endpoint) }
        guard !rules.isEmpty, var value = try? JSONValue.parse(body) else { return nil }
        for rule in rules {
            for path in rule.strip { Self.remove(path.split(separator: ".").map(String.init), from: &value) }
            if rule.addMetadata, case .object(var object) = value {
                object["switchyard"] = .object(metadata)
                value = .object(object)
            }
            if rule.envelope { value = ["data": value, "meta": .object(metadata)] }
        }
        return value.serializedBytes()
    }

    /// Removes a dotted path; arrays on the way apply it to each element.
    static func remove(_ path: [String], from value: inout JSONValue) {
        guard let first = path.first else { return }
        switch value {
        case .object(var object):
            if path.count == 1 {
                object[first] = nil
            } else if var child = object[first] {
                remove(Array(path.dropFirst()), from: &child)
                object[first] = child
            }
            value = .object(object)
        case .array(var items):
            for index in items.indices { remove(path, from: &items[index]) }
            value = .array(items)
        default:
            break
        }
    }
}

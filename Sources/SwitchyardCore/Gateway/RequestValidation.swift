/// What the gateway checks beyond top-level types before anything else reads a request: the
/// message structure (roles, content and content-part types) that guardrails, access rules and
/// translators rely on, the numeric ranges of sampling and length settings, and the length of
/// `user` (which becomes a counter key and a ledger column).
///
/// Messages are walked over the bytes the scan already validated, without building a tree.
extension OpenAIRequest {
    /// The longest `user` accepted, in UTF-8 bytes (`metadata.user_id` for Anthropic clients).
    public static let maximumUserLength = 256

    /// Roles a chat message may have.
    public static let messageRoles: [String] = ["system", "developer", "user", "assistant", "tool", "function"]
    /// Content part types a chat message may carry.
    public static let contentPartTypes: [String] = ["text", "image_url", "input_audio", "file", "refusal"]

    /// Inclusive bounds of the numeric settings the gateway reads or forwards.
    static func ranges(_ endpoint: Endpoint) -> [(field: String, min: Double?, max: Double?)] {
        switch endpoint {
        case .chatCompletions:
            [
                ("max_tokens", 1, nil), ("max_completion_tokens", 1, nil), ("n", 1, 128), ("temperature", 0, 2), ("top_p", 0, 1),
                ("presence_penalty", -2, 2), ("frequency_penalty", -2, 2), ("top_logprobs", 0, 20),
            ]
        case .completions:
            [
                ("max_tokens", 0, nil), ("n", 1, 128), ("best_of", 1, 128), ("temperature", 0, 2), ("top_p", 0, 1),
                ("presence_penalty", -2, 2), ("frequency_penalty", -2, 2), ("logprobs", 0, 5),
            ]
        case .embeddings:
            [("dimensions", 1, nil)]
        case .rerank:
            [("top_n", 1, nil), ("max_tokens_per_doc", 1, nil)]
        case .moderations, .audioTranscriptions, .audioTranslations, .passthrough:
            []
        case .imageGenerations, .imageEdits:
            [("n", 1, 10)]
        case .audioSpeech:
            [("speed", 0.25, 4)]
        }
    }

    /// Checks ranges, `user` and, for chat, every message; throws naming the field.
    static func validate(_ scan: JSONObjectScan, endpoint: Endpoint) throws(GatewayError) {
        for (field, low, high) in ranges(endpoint) {
            guard let value = scan.number(field) else { continue }
            if let low, value < low {
                throw GatewayError.invalidRequest(
                    "Invalid '\(field)': \(format(value)) is below the minimum of \(format(low)).", param: field, code: .invalidValue)
            }
            if let high, value > high {
                throw GatewayError.invalidRequest(
                    "Invalid '\(field)': \(format(value)) is above the maximum of \(format(high)).", param: field, code: .invalidValue)
            }
        }
        if let user = scan.string("user"), user.utf8.count > maximumUserLength {
            throw GatewayError.invalidRequest(
                "Invalid 'user': at most \(maximumUserLength) bytes (an end-user id, not free text).", param: "user", code: .stringAboveMaxLength)
        }
        if endpoint == .chatCompletions, let messages = scan.member("messages"), messages.kind == .array {
            try validateMessages(scan.bytes, messages.valueRange)
        }
        if endpoint == .rerank, let documents = scan.member("documents"), documents.kind == .array {
            try validateList(scan.bytes, documents.valueRange, field: "documents", limit: maximumRerankDocuments)
        }
        if endpoint == .moderations, let input = scan.member("input"), input.kind == .array {
            try validateList(scan.bytes, input.valueRange, field: "input", limit: nil)
        }
    }

    /// The most documents one rerank request may rank (Cohere's limit).
    public static let maximumRerankDocuments = 1000

    /// A list of texts (or objects, such as `{"text": ...}` documents and moderation content
    /// parts): not empty, every element a string or an object, at most `limit` of them.
    static func validateList(_ bytes: [UInt8], _ range: Range<Int>, field: String, limit: Int?) throws(GatewayError) {
        let elements = JSONWalk.elements(bytes, range)
        if elements.isEmpty {
            throw GatewayError.invalidRequest("'\(field)' must contain at least one element.", param: field, code: .invalidValue)
        }
        if let limit, elements.count > limit {
            throw GatewayError.invalidRequest(
                "'\(field)' has \(elements.count) elements; at most \(limit) are accepted.", param: field, code: .arrayAboveMaxLength)
        }
        for (index, element) in elements.enumerated() where element.kind != .string && element.kind != .object {
            throw GatewayError.invalidType(field: "\(field)[\(index)]", expected: "a string or an object", found: element.kind.typeName)
        }
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    /// Message members that, when present, are strings (or null).
    static let optionalStringMembers = ["name", "tool_call_id"]

    static func validateMessages(_ bytes: [UInt8], _ range: Range<Int>) throws(GatewayError) {
        let messages = JSONWalk.elements(bytes, range)
        for (index, message) in messages.enumerated() {
            // Named only in an error: building the name for every message cost more than checking it.
            var field: String { "messages[\(index)]" }
            guard message.kind == .object else { throw GatewayError.invalidType(field: field, expected: "an object", found: message.kind.typeName) }
            let members = JSONWalk.members(bytes, message.range)
            func member(_ key: String) -> JSONWalk.Item? { members.last { $0.key == key } }
            guard let roleItem = member("role") else { throw GatewayError.missingField("\(field).role") }
            guard roleItem.kind == .string, let role = JSONWalk.string(bytes, roleItem.range) else {
                throw GatewayError.invalidType(field: "\(field).role", expected: "a string", found: roleItem.kind.typeName)
            }
            guard messageRoles.contains(role) else {
                throw GatewayError.invalidRequest(
                    "Invalid '\(field).role': '\(role.prefix(64))' is not one of \(messageRoles.joined(separator: ", ")).", param: "\(field).role",
                    code: .invalidValue)
            }
            for name in Self.optionalStringMembers {
                if let item = member(name), item.kind != .string, item.kind != .null {
                    throw GatewayError.invalidType(field: "\(field).\(name)", expected: "a string", found: item.kind.typeName)
                }
            }
            if let calls = member("tool_calls"), calls.kind != .null {
                try validateToolCalls(bytes, calls, field: "\(field).tool_calls")
            }
            guard let content = member("content") else {
                // An assistant turn may carry only tool calls.
                if role == "assistant" { continue }
                throw GatewayError.missingField("\(field).content")
            }
            switch content.kind {
            case .string:
                continue
            case .null where role == "assistant":
                continue
            case .array:
                try validateParts(bytes, content.range, field: "\(field).content")
            default:
                throw GatewayError.invalidType(
                    field: "\(field).content", expected: "a string or an array of content parts", found: content.kind.typeName)
            }
        }
    }

    static func validateParts(_ bytes: [UInt8], _ range: Range<Int>, field: String) throws(GatewayError) {
        for (index, part) in JSONWalk.elements(bytes, range).enumerated() {
            let partField = "\(field)[\(index)]"
            guard part.kind == .object else { throw GatewayError.invalidType(field: partField, expected: "an object", found: part.kind.typeName) }
            let members = JSONWalk.members(bytes, part.range)
            guard let typeItem = members.last(where: { $0.key == "type" }) else { throw GatewayError.missingField("\(partField).type") }
            guard typeItem.kind == .string, let type = JSONWalk.string(bytes, typeItem.range), contentPartTypes.contains(type) else {
                throw GatewayError.invalidRequest(
                    "Invalid '\(partField).type': expected one of \(contentPartTypes.joined(separator: ", ")).", param: "\(partField).type",
                    code: .invalidValue)
            }
            // Each part carries its payload under its type's name (`text`, `image_url`, ...).
            guard let payload = members.last(where: { $0.key == type }) else { throw GatewayError.missingField("\(partField).\(type)") }
            let expected: JSONKind = (type == "text" || type == "refusal") ? .string : .object
            if payload.kind != expected, !(type == "image_url" && payload.kind == .string) {
                throw GatewayError.invalidType(
                    field: "\(partField).\(type)", expected: expected == .string ? "a string" : "an object", found: payload.kind.typeName)
            }
        }
    }

    static func validateToolCalls(_ bytes: [UInt8], _ calls: JSONWalk.Item, field: String) throws(GatewayError) {
        guard calls.kind == .array else { throw GatewayError.invalidType(field: field, expected: "an array", found: calls.kind.typeName) }
        for (index, call) in JSONWalk.elements(bytes, calls.range).enumerated() {
            let callField = "\(field)[\(index)]"
            guard call.kind == .object else { throw GatewayError.invalidType(field: callField, expected: "an object", found: call.kind.typeName) }
            guard let function = JSONWalk.members(bytes, call.range).last(where: { $0.key == "function" }) else { continue }
            guard function.kind == .object else {
                throw GatewayError.invalidType(field: "\(callField).function", expected: "an object", found: function.kind.typeName)
            }
            if let arguments = JSONWalk.members(bytes, function.range).last(where: { $0.key == "arguments" }), arguments.kind != .string {
                throw GatewayError.invalidType(field: "\(callField).function.arguments", expected: "a string", found: arguments.kind.typeName)
            }
        }
    }
}

/// Reads the elements of an array or the members of an object inside JSON text that is
/// already known to be valid (a ``JSONObjectScan``'s bytes), by byte range.
enum JSONWalk {
    struct Item {
        var key: String
        var kind: JSONKind
        var range: Range<Int>
    }

    static func elements(_ bytes: [UInt8], _ range: Range<Int>) -> [Item] {
        walk(bytes, range, keyed: false)
    }

    static func members(_ bytes: [UInt8], _ range: Range<Int>) -> [Item] {
        walk(bytes, range, keyed: true)
    }

    /// The unescaped string at `range` (which starts at its opening quote).
    static func string(_ bytes: [UInt8], _ range: Range<Int>) -> String? {
        bytes.withUnsafeBufferPointer { buffer in
            var parser = JSONParser(bytes: buffer)
            parser.position = range.lowerBound
            return try? parser.parseString()
        }
    }

    private static func walk(_ bytes: [UInt8], _ range: Range<Int>, keyed: Bool) -> [Item] {
        bytes.withUnsafeBufferPointer { buffer -> [Item] in
            var items: [Item] = []
            // Room for a message's members (or a short conversation) at once: growing from
            // empty took two or three allocations for each message's handful.
            items.reserveCapacity(8)
            var parser = JSONParser(bytes: UnsafeBufferPointer(rebasing: buffer[..<range.upperBound]))
            parser.position = range.lowerBound + 1
            do {
                while true {
                    parser.skipWhitespace()
                    let next = try parser.peek()
                    if next == UInt8(ascii: "]") || next == UInt8(ascii: "}") { break }
                    if next == UInt8(ascii: ",") {
                        parser.position += 1
                        continue
                    }
                    var key = ""
                    if keyed {
                        key = try parser.parseString()
                        parser.skipWhitespace()
                        try parser.expect(UInt8(ascii: ":"))
                        parser.skipWhitespace()
                    }
                    let start = parser.position
                    let kind = try parser.skipValue()
                    items.append(Item(key: key, kind: kind, range: start..<parser.position))
                }
            } catch {
                // The text was validated by the scan; nothing here can fail.
            }
            return items
        }
    }
}

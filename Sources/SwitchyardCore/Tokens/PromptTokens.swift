/// Prompt token counts as the providers bill them: exact with the model's BPE encoding for
/// OpenAI-family models, estimated (``Tokenizers/estimateTokens(_:)``) for the rest.
public enum PromptTokens {
    /// How a count was made: the encoding's name, or `estimate`.
    public static func method(forModel model: String) -> String {
        Tokenizers.tokenizer(forModel: model) == nil ? "estimate" : (Tokenizers.encoding(forModel: model) ?? "estimate")
    }

    /// Tokens of a text for `model`.
    public static func count(_ text: String, model: String) -> Int {
        Tokenizers.countTokens(text, model: model)
    }

    /// Tokens of chat messages the way OpenAI counts a chat prompt: 3 per message, its role and
    /// content (text parts; 765 per image, the cost of a detailed 512×512 tile set), 1 more for a
    /// `name`, tool calls' names and arguments, then 3 priming the reply; plus the tools' JSON.
    public static func count(messages: [JSONValue], tools: JSONValue?, model: String) -> Int {
        // The one reading of the rules: the request path's, on the messages' JSON text.
        let tokenizer = Tokenizers.tokenizer(forModel: model)
        let bytes = JSONValue.array(messages).serializedBytes()
        return chat(0..<bytes.count, of: bytes, tokenizer: tokenizer).tokens + toolTokens(tools, tokenizer: tokenizer)
    }

    /// What a chat prompt's messages come to: their tokens the way OpenAI counts them (3 per
    /// message, its role and content, 1 more for a `name`, 765 per image, tool calls' names and
    /// arguments, 3 priming the reply; tools apart), whether a content part is an image, and the
    /// last user message's text.
    struct Chat: Sendable {
        var tokens = 3
        var hasImages = false
        var lastUserText = ""
    }

    /// ``Chat`` of the messages array at `range` of valid JSON text, read without building a
    /// tree: strings without escapes are counted where they lie; the last duplicate of a key
    /// wins, as in a parsed object.
    static func chat(_ range: Range<Int>, of bytes: [UInt8], tokenizer: BPEEncoding?) -> Chat {
        var chat = Chat()
        var total = 3
        var lastUser: JSONWalk.Item?
        var sawUser = false
        bytes.withUnsafeBufferPointer { buffer in
            func tokens(_ item: JSONWalk.Item?) -> Int {
                guard let item, item.kind == .string, item.range.count > 2 else { return 0 }
                let body = UnsafeBufferPointer(rebasing: buffer[(item.range.lowerBound + 1)..<(item.range.upperBound - 1)])
                if !body.contains(UInt8(ascii: "\\")) {
                    return tokenizer?.count(utf8: body) ?? Tokenizers.estimateTokens(utf8: body)
                }
                var text = JSONParser.unescape(body)
                return text.withUTF8 { tokenizer?.count(utf8: $0) ?? Tokenizers.estimateTokens(utf8: $0) }
            }
            func string(_ item: JSONWalk.Item?) -> String? {
                guard let item, item.kind == .string else { return nil }
                return JSONWalk.string(bytes, item.range)
            }
            for message in JSONWalk.elements(bytes, range) {
                total += 3
                guard message.kind == .object else { continue }
                let members = JSONWalk.members(bytes, message.range)
                func member(_ key: String) -> JSONWalk.Item? { members.last { $0.key == key } }
                let role = member("role")
                total += tokens(role)
                if let name = member("name"), name.kind == .string { total += 1 + tokens(name) }
                let content = member("content")
                switch content?.kind {
                case .string?:
                    total += tokens(content)
                case .array?:
                    for part in JSONWalk.elements(bytes, content!.range) {
                        let fields = part.kind == .object ? JSONWalk.members(bytes, part.range) : []
                        switch string(fields.last { $0.key == "type" }) {
                        case "image_url", "input_image", "image":
                            total += 765
                            chat.hasImages = true
                        default:
                            total += tokens(fields.last { $0.key == "text" })
                        }
                    }
                default:
                    break
                }
                if let calls = member("tool_calls"), calls.kind == .array {
                    for call in JSONWalk.elements(bytes, calls.range) {
                        total += 3
                        guard call.kind == .object, let function = JSONWalk.members(bytes, call.range).last(where: { $0.key == "function" }),
                            function.kind == .object
                        else { continue }
                        let fields = JSONWalk.members(bytes, function.range)
                        total += tokens(fields.last { $0.key == "name" }) + tokens(fields.last { $0.key == "arguments" })
                    }
                }
                if let role, role.kind == .string, string(role) == "user" {
                    sawUser = true
                    lastUser = content
                }
            }
        }
        chat.tokens = total
        guard sawUser else { return chat }
        switch lastUser?.kind {
        case .string?:
            chat.lastUserText = JSONWalk.string(bytes, lastUser!.range) ?? ""
        case .array?:
            chat.lastUserText = JSONWalk.elements(bytes, lastUser!.range).compactMap { part -> String? in
                guard part.kind == .object, let text = JSONWalk.members(bytes, part.range).last(where: { $0.key == "text" }),
                    text.kind == .string
                else { return nil }
                return JSONWalk.string(bytes, text.range)
            }.joined()
        default:
            chat.lastUserText = ""
        }
        return chat
    }

    /// The tools' share of a chat prompt: their JSON, as serialized, counted as text.
    static func toolTokens(_ tools: JSONValue?, tokenizer: BPEEncoding?) -> Int {
        guard let tools, case .array(let list) = tools, !list.isEmpty else { return 0 }
        let text = String(decoding: tools.serializedBytes(), as: UTF8.self)
        guard !text.isEmpty else { return 0 }
        return tokenizer?.count(text) ?? Tokenizers.estimateTokens(text)
    }
}

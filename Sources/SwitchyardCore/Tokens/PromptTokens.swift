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
        let tokenizer = Tokenizers.tokenizer(forModel: model)
        func tokens(_ text: String) -> Int {
            guard !text.isEmpty else { return 0 }
            return tokenizer?.count(text) ?? Tokenizers.estimateTokens(text)
        }
        var total = 3
        for message in messages {
            total += 3
            total += tokens(message["role"]?.stringValue ?? "")
            if let name = message["name"]?.stringValue { total += 1 + tokens(name) }
            switch message["content"] {
            case .string(let text)?:
                total += tokens(text)
            case .array(let parts)?:
                for part in parts {
                    switch part["type"]?.stringValue {
                    case "image_url", "input_image", "image": total += 765
                    default: total += tokens(part["text"]?.stringValue ?? "")
                    }
                }
            default:
                break
            }
            for call in message["tool_calls"]?.arrayValue ?? [] {
                total += 3 + tokens(call["function"]?["name"]?.stringValue ?? "") + tokens(call["function"]?["arguments"]?.stringValue ?? "")
            }
        }
        return total + toolTokens(tools, tokenizer: tokenizer)
    }

    /// The tools' share of a chat prompt: their JSON, as serialized, counted as text.
    static func toolTokens(_ tools: JSONValue?, tokenizer: BPEEncoding?) -> Int {
        guard let tools, case .array(let list) = tools, !list.isEmpty else { return 0 }
        let text = String(decoding: tools.serializedBytes(), as: UTF8.self)
        guard !text.isEmpty else { return 0 }
        return tokenizer?.count(text) ?? Tokenizers.estimateTokens(text)
    }
}

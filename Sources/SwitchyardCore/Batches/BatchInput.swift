/// Reading a batch's input: JSONL split into lines as the bytes arrive, and each line checked
/// against OpenAI's request-line shape (`{"custom_id", "method": "POST", "url", "body"}`).

/// Splits a byte stream into lines (LF or CRLF), incrementally, with a bound on a line's length:
/// a longer line is reported as too long without being held in memory.
public struct JSONLLineSplitter: Sendable {
    public enum Line: Sendable, Equatable {
        case line([UInt8])
        /// A line longer than the bound (its bytes were dropped).
        case tooLong
    }

    public let maximumLineBytes: Int
    private var current: [UInt8] = []
    private var overflowed = false

    public init(maximumLineBytes: Int) {
        self.maximumLineBytes = maximumLineBytes
    }

    /// The lines `bytes` completes. Blank lines are skipped.
    public mutating func feed(_ bytes: some Collection<UInt8>) -> [Line] {
        var lines: [Line] = []
        var start = bytes.startIndex
        while start != bytes.endIndex {
            guard let newline = bytes[start...].firstIndex(of: 10) else {
                append(bytes[start...])
                break
            }
            append(bytes[start..<newline])
            if let line = take() { lines.append(line) }
            start = bytes.index(after: newline)
        }
        return lines
    }

    /// The last line when the input does not end with a newline.
    public mutating func finish() -> Line? { take() }

    private mutating func append(_ bytes: some Collection<UInt8>) {
        guard !overflowed else { return }
        if current.count + bytes.count > maximumLineBytes {
            overflowed = true
            current = []
        } else {
            current.append(contentsOf: bytes)
        }
    }

    private mutating func take() -> Line? {
        defer {
            current = []
            overflowed = false
        }
        if overflowed { return .tooLong }
        if current.last == 13 { current.removeLast() }
        if current.allSatisfy({ $0 == 32 || $0 == 9 }) { return nil }
        return .line(current)
    }
}

/// One line of a batch's input, checked.
public struct BatchRequestLine: Sendable, Equatable {
    public var customID: String
    /// The request body, as JSON bytes.
    public var body: [UInt8]

    /// Why a line cannot run (it goes to the error file with this code and message).
    public struct Problem: Error, Sendable, Equatable {
        public var code: String
        public var message: String
        /// The line's `custom_id` when it had a readable one.
        public var customID: String?

        public init(code: String, message: String, customID: String?) {
            self.code = code
            self.message = message
            self.customID = customID
        }
    }

    /// The endpoints a batch may target (the API path in each line's `url`).
    public static let endpoints: [String: Endpoint] = [
        "/v1/chat/completions": .chatCompletions, "/v1/completions": .completions, "/v1/embeddings": .embeddings,
    ]

    /// Parses and checks one input line for a batch on `endpoint`.
    public static func parse(_ bytes: [UInt8], endpoint: String) -> Result<BatchRequestLine, Problem> {
        guard let object = (try? JSONValue.parse(bytes))?.objectValue else {
            return .failure(Problem(code: "invalid_json_line", message: "This line is not a JSON object.", customID: nil))
        }
        let customID = object["custom_id"]?.stringValue
        func problem(_ code: String, _ message: String) -> Result<BatchRequestLine, Problem> {
            .failure(Problem(code: code, message: message, customID: customID))
        }
        guard let customID, !customID.isEmpty else { return problem("missing_custom_id", "Each line needs a non-empty string 'custom_id'.") }
        guard customID.utf8.count <= 512 else { return problem("invalid_custom_id", "'custom_id' is longer than 512 bytes.") }
        if let method = object["method"], method.stringValue?.uppercased() != "POST" {
            return problem("invalid_method", "'method' must be POST.")
        }
        guard let url = object["url"]?.stringValue else { return problem("missing_url", "Each line needs a 'url' (the batch's endpoint).") }
        guard url == endpoint else {
            return problem("mismatched_url", "The line's url '\(url.prefix(200))' is not the batch's endpoint '\(endpoint)'.")
        }
        guard let body = object["body"], body.objectValue != nil else {
            return problem("invalid_body", "Each line needs a JSON object 'body' (the request).")
        }
        if body["stream"]?.boolValue == true { return problem("stream_unsupported", "Batch requests cannot stream ('stream': true).") }
        return .success(BatchRequestLine(customID: customID, body: body.serializedBytes()))
    }
}

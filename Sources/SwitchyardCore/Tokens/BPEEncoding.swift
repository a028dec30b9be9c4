/// A byte-pair encoding in tiktoken's format (`cl100k_base`, `o200k_base`): it splits text with the
/// encoding's pre-tokenizer, then merges each piece's bytes by rank.
///
/// `encode` returns the same ids as tiktoken's `encode_ordinary`: special tokens such as
/// `<|endoftext|>` are encoded as plain text. Instances are immutable and safe to share.
public final class BPEEncoding: Sendable {
    /// The encoding's name, e.g. `o200k_base`.
    public let name: String
    /// Special tokens, used only by `decode`.
    public let specialTokens: [String: Int]
    /// How many mergeable tokens the ranks file defines.
    public var mergeableTokenCount: Int { table.count }

    let pattern: PreTokenizer
    let table: RankTable
    private let specialTokenBytes: [Int: [UInt8]]

    /// Parses a `.tiktoken` ranks file: one `base64(token bytes) rank` line per token.
    ///
    /// - Parameters:
    ///   - name: `cl100k_base`, `o200k_base` or `o200k_harmony`; it selects the pre-tokenizer.
    ///   - contents: the file's bytes.
    ///   - specialTokens: special tokens for `decode`; `encode` never produces them.
    /// - Throws: `BPEEncodingError` when the name is unknown, a line is malformed, a rank or a
    ///   token repeats, or a single byte has no token.
    public init(name: String, ranksFile contents: [UInt8], specialTokens: [String: Int] = [:]) throws {
        switch name {
        case "cl100k_base": pattern = .cl100k
        case "o200k_base", "o200k_harmony": pattern = .o200k
        default: throw BPEEncodingError.unknownEncoding(name)
        }
        self.name = name
        table = try Self.parse(contents)
        for byte in 0..<256 where table.byteRanks[byte] == RankLookup.none {
            throw BPEEncodingError.missingByteToken(UInt8(byte))
        }
        self.specialTokens = specialTokens
        var specialTokenBytes: [Int: [UInt8]] = [:]
        for (text, id) in specialTokens { specialTokenBytes[id] = Array(text.utf8) }
        self.specialTokenBytes = specialTokenBytes
    }

    /// The token ids of `text`, exactly as tiktoken's `encode_ordinary` returns them.
    public func encode(_ text: String) -> [Int] {
        var sink = CollectingSink()
        sink.ids.reserveCapacity(text.utf8.count / 3 + 1)
        run(text, into: &sink)
        return sink.ids
    }

    /// The number of tokens `encode` would return, without building the array.
    public func count(_ text: String) -> Int {
        var sink = CountingSink()
        run(text, into: &sink)
        return sink.count
    }

    /// ``count(_:)`` of valid UTF-8 bytes (a JSON string's body read in place).
    func count(utf8: UnsafeBufferPointer<UInt8>) -> Int {
        var sink = CountingSink()
        run(utf8: utf8, into: &sink)
        return sink.count
    }

    /// The bytes of `ids` joined: UTF-8 when the ids came from `encode`, but a slice of ids may
    /// split a character. Special-token ids decode to their text; unknown ids are skipped.
    public func decode(_ ids: [Int]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids {
            if let token = table.tokenBytes(id) {
                bytes.append(contentsOf: token)
            } else if let special = specialTokenBytes[id] {
                bytes.append(contentsOf: special)
            }
        }
        return bytes
    }

    // MARK: Encoding

    private func run<Sink: TokenSink>(_ text: String, into sink: inout Sink) {
        var text = text
        text.withUTF8 { run(utf8: $0, into: &sink) }
    }

    private func run<Sink: TokenSink>(utf8: UnsafeBufferPointer<UInt8>, into sink: inout Sink) {
        guard let base = utf8.baseAddress, !utf8.isEmpty else { return }
        ScalarClass.table.withUnsafeBufferPointer { classes in
            guard let classes = classes.baseAddress else { return }
            table.withLookup { lookup in
                let scanner = PieceScanner(text: base, count: utf8.count, classes: classes)
                var i = 0
                switch pattern {
                case .cl100k:
                    while i < utf8.count {
                        let end = scanner.nextCL100K(i)
                        Self.encodePiece(base + i, end &- i, lookup, &sink)
                        i = end
                    }
                case .o200k:
                    while i < utf8.count {
                        let end = scanner.nextO200K(i)
                        Self.encodePiece(base + i, end &- i, lookup, &sink)
                        i = end
                    }
                }
            }
        }
    }

    /// One piece: its own rank when it is a token, else the byte-pair merge of its bytes.
    @inline(__always)
    private static func encodePiece<Sink: TokenSink>(_ piece: UnsafePointer<UInt8>, _ count: Int, _ lookup: RankLookup, _ sink: inout Sink) {
        let rank = lookup.rank(UnsafeRawPointer(piece), count)
        if rank != RankLookup.none {
            sink.append(rank)
        } else if count <= BytePairMerge.smallPieceLimit {
            BytePairMerge.small(piece, count, lookup, &sink)
        } else {
            BytePairMerge.large(piece, count, lookup, &sink)
        }
    }

    // MARK: Parsing

    private static func parse(_ contents: [UInt8]) throws -> RankTable {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(contents.count / 2)
        var tokens: [(rank: Int, start: Int, length: Int)] = []
        tokens.reserveCapacity(contents.count / 12)
        var lineNumber = 0
        var lineStart = 0
        while lineStart < contents.count {
            lineNumber += 1
            var lineEnd = lineStart
            while lineEnd < contents.count, contents[lineEnd] != 0x0A { lineEnd += 1 }
            let next = lineEnd + 1
            if lineEnd > lineStart, contents[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            defer { lineStart = next }
            if lineEnd == lineStart { continue }  // blank lines are allowed, as in tiktoken
            var space = lineStart
            while space < lineEnd, contents[space] != 0x20 { space += 1 }
            guard space > lineStart, space < lineEnd - 1 else {
                throw BPEEncodingError.malformedLine(lineNumber, "expected `base64 rank`")
            }
            let start = bytes.count
            guard RanksFileBase64.decode(contents[lineStart..<space], into: &bytes), bytes.count > start else {
                throw BPEEncodingError.malformedLine(lineNumber, "invalid or empty base64 token")
            }
            var rank = 0
            for digit in contents[(space + 1)..<lineEnd] {
                guard digit >= 0x30, digit <= 0x39 else { throw BPEEncodingError.malformedLine(lineNumber, "rank is not a decimal number") }
                rank = rank * 10 + Int(digit - 0x30)
                guard rank <= RankTable.maximumRank else {
                    throw BPEEncodingError.malformedLine(lineNumber, "rank exceeds \(RankTable.maximumRank)")
                }
            }
            tokens.append((rank, start, bytes.count - start))
        }
        return try RankTable(bytes: bytes, tokens: tokens)
    }
}

/// Why a ranks file was rejected.
public enum BPEEncodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The encoding name has no known pre-tokenizer.
    case unknownEncoding(String)
    /// Line `line` (1-based) is not `base64 rank`.
    case malformedLine(Int, String)
    /// Two lines use the same rank.
    case duplicateRank(Int)
    /// Two ranks have the same bytes.
    case duplicateToken(rank: Int, previousRank: Int)
    /// A single byte has no token, so some inputs could not be encoded.
    case missingByteToken(UInt8)
    /// The file defines no tokens.
    case noTokens

    public var description: String {
        switch self {
        case .unknownEncoding(let name): "unknown encoding \(name): no pre-tokenizer for it"
        case .malformedLine(let line, let reason): "ranks file line \(line): \(reason)"
        case .duplicateRank(let rank): "ranks file: rank \(rank) appears twice"
        case .duplicateToken(let rank, let previous): "ranks file: rank \(rank) repeats the bytes of rank \(previous)"
        case .missingByteToken(let byte): "ranks file: byte \(byte) has no token"
        case .noTokens: "ranks file defines no tokens"
        }
    }
}

/// Receives token ranks from the encoder; specialised for collecting and for counting.
protocol TokenSink {
    mutating func append(_ rank: UInt32)
}

struct CollectingSink: TokenSink {
    var ids: [Int] = []
    @inline(__always) mutating func append(_ rank: UInt32) { ids.append(Int(rank)) }
}

struct CountingSink: TokenSink {
    var count = 0
    @inline(__always) mutating func append(_ rank: UInt32) { count &+= 1 }
}

/// Strict base64 (RFC 4648 alphabet, `=` padding only at the end).
enum RanksFileBase64 {
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, char) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            table[Int(char)] = UInt8(index)
        }
        return table
    }()

    /// Appends the decoded bytes of `text` to `output`; false when `text` is not valid base64.
    static func decode(_ text: ArraySlice<UInt8>, into output: inout [UInt8]) -> Bool {
        guard text.count % 4 == 0 else { return false }
        var padding = 0
        if text.last == UInt8(ascii: "=") { padding += 1 }
        if text.count >= 2, text[text.endIndex - 2] == UInt8(ascii: "=") { padding += 1 }
        var accumulator: UInt32 = 0
        var bits = 0
        for (offset, char) in text.enumerated() {
            if offset >= text.count - padding { break }
            let value = values[Int(char)]
            guard value != 0xFF else { return false }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
        return true
    }
}

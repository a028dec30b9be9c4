import Foundation

/// The injection detector's learned stage: a logistic regression over hashed word unigrams,
/// word bigrams and character 4-grams of the detector's plain form of the text (fastText-like:
/// each group's weights are averaged), trained offline by `benchmarks/guardrails/train.py` on
/// public labelled data (see `Resources/guardrails/PROVENANCE.md`).
///
/// Scoring reads one weight per n-gram from a table of int8 weights (256 KiB) and allocates
/// nothing: the words come from the detector's own pass over the text and the character window
/// rolls in a register.
public struct InjectionLinearModel: Sendable {
    /// Log2 of the number of weights.
    public let bits: Int
    let scale: Float
    let bias: Float
    let weights: [Int8]

    static let magic: [UInt8] = Array("SYIL".utf8)
    static let golden: UInt64 = 0x9E37_79B9_7F4A_7C15
    static let fnvPrime: UInt64 = 0x100_0000_01b3
    static let characterTag: UInt64 = 0xC4 << 56
    /// Per byte: the byte itself when it is a word byte (``ByteClass/word(_:)``), else a space.
    static let gramBytes: [UInt8] = (0..<256).map { ByteClass.word(UInt8($0)) ? UInt8($0) : 0x20 }

    /// The shipped weights, loaded once; nil when the resource is missing or unreadable (the
    /// detector then scores with its rules alone).
    public static let shipped: InjectionLinearModel? = {
        guard let url = BundledResources.url("injection-linear", extension: "bin", subdirectory: "guardrails"),
            let data = FileManager.default.contents(atPath: url.path)
        else { return nil }
        return InjectionLinearModel(file: [UInt8](data))
    }()

    /// Reads `SYIL`, version 1 (UInt32), bits (UInt32), scale and bias (Float32), then 2^bits
    /// int8 weights; all little-endian. Nil for anything else.
    public init?(file: [UInt8]) {
        guard file.count >= 20, Array(file[0..<4]) == Self.magic else { return nil }
        func word(_ offset: Int) -> UInt32 {
            UInt32(file[offset]) | UInt32(file[offset + 1]) << 8 | UInt32(file[offset + 2]) << 16 | UInt32(file[offset + 3]) << 24
        }
        let bits = Int(word(8))
        guard word(4) == 1, (8...24).contains(bits), file.count == 20 + (1 << bits) else { return nil }
        let scale = Float(bitPattern: word(12))
        let bias = Float(bitPattern: word(16))
        guard scale.isFinite, bias.isFinite else { return nil }
        self.bits = bits
        self.scale = scale
        self.bias = bias
        self.weights = file[20...].map { Int8(bitPattern: $0) }
    }

    /// The probability (0...1) that `text` is an injection. `text` is the detector's plain form
    /// (``TextNormalizer``) and `words` its words (``InjectionDetector/words(_:)``).
    func probability(_ text: [UInt8], words: [InjectionDetector.Word]) -> Double {
        let shift = UInt64(64 - bits)
        var logit = Double(bias)
        weights.withUnsafeBufferPointer { table in
            @inline(__always) func weight(_ key: UInt64) -> Int { Int(table[Int(truncatingIfNeeded: (key &* Self.golden) &>> shift)]) }
            if !words.isEmpty {
                var sum = weight(words[0].hash)
                for index in 1..<words.count {
                    sum += weight(words[index].hash)
                    sum += weight((words[index - 1].hash &* Self.fnvPrime) ^ words[index].hash)
                }
                logit += Double(scale) * Double(sum) / Double(2 * words.count - 1)
            }
            // Character 4-grams, every run of non-word bytes read as one space. Without branches
            // on the text: where words and spaces alternate, a branch per byte is mispredicted
            // at every word's edge, and each misprediction also throws away the table loads
            // under way (this loop waits on them: the table is larger than the first-level
            // cache). A byte that only extends a run of spaces changes nothing.
            var window: UInt64 = 0
            var filled = 0
            var spaced = false
            var sum = 0
            var count = 0
            text.withUnsafeBufferPointer { text in
                Self.gramBytes.withUnsafeBufferPointer { gramBytes in
                    for byte in text {
                        // The byte as the window reads it: itself for a word byte, a space for any
                        // other (a space is no word byte, so the two never mix up).
                        let mapped = gramBytes[Int(byte)]
                        let word = mapped != 0x20
                        let skip = !word && spaced
                        spaced = !word
                        let next = (window << 8 | UInt64(mapped)) & 0xFFFF_FFFF
                        window = skip ? window : next
                        filled &+= skip ? 0 : 1
                        let counted = !skip && filled >= 4
                        let value = weight(Self.characterTag | window)
                        sum &+= counted ? value : 0
                        count &+= counted ? 1 : 0
                    }
                }
            }
            if count > 0 { logit += Double(scale) * Double(sum) / Double(count) }
        }
        return 1 / (1 + exp(-logit))
    }
}

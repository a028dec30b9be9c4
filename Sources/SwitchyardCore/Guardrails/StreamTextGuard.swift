/// Output guardrails on a stream: the text of each choice is scanned incrementally. A bounded
/// window at the end is held back (and a token is never split), so a value cut across chunks
/// is still found before any of it reaches the client; masking rewrites what is released;
/// a block ends the stream; pseudonymized placeholders are restored on release.
public struct StreamTextGuard: Sendable {
    struct Choice: Sendable {
        var pending: [UInt8] = []
        /// The last released bytes: context for keyword-led patterns.
        var context: [UInt8] = []
        /// Scores of released findings per rail and entity (scored detectors sum over the stream).
        var carried: [String: [String: Double]] = [:]
    }

    let output: GuardrailOutput
    let window: Int
    var choices: [Int: Choice] = [:]
    /// Per rail: the findings acted on, for the decision record.
    private(set) var findings: [String: [Finding]] = [:]
    private(set) var order: [String] = []
    public private(set) var blocked: GuardrailDecision?
    /// Bytes of answer text seen (for a usage estimate when a block cuts the stream short).
    public private(set) var textBytes = 0
    /// Held text is released regardless beyond this (an unterminated private key block).
    static let maximumHeld = 64 * 1024

    init(output: GuardrailOutput) {
        self.output = output
        self.window = max(output.streamWindow, 16)
    }

    /// The decisions taken so far, one per rail that acted.
    public var decisions: [GuardrailDecision] {
        var result: [GuardrailDecision] = []
        for name in order {
            guard let rail = output.rails.first(where: { $0.rule.name == name }), let found = findings[name] else { continue }
            let action = rail.rule.action == .pseudonymize || rail.rule.action == .route ? "mask" : rail.rule.action.rawValue
            result.append(GuardrailDecision(rail: rail, direction: "output", findings: found, action: action))
        }
        return result
    }

    /// Adds a choice's text and returns what may be sent now; `final` releases everything.
    /// After a block (see ``blocked``) nothing more is released.
    mutating func feed(_ text: String, choice index: Int, final: Bool) -> String {
        guard blocked == nil else { return "" }
        var state = choices[index] ?? Choice()
        defer { choices[index] = state }
        state.pending.append(contentsOf: text.utf8)
        textBytes += text.utf8.count
        guard !state.pending.isEmpty else { return "" }
        let count = state.pending.count
        var release = final || count > Self.maximumHeld ? count : count - window
        var railFindings: [(rail: GuardrailEngine.Rail, found: [Finding])] = []
        for rail in output.rails {
            guard let detector = rail.detector else { continue }
            let raw = detector.findings(in: state.pending, context: state.context)
            guard !raw.isEmpty else { continue }
            let carried = state.carried[rail.rule.name] ?? [:]
            let found = rail.triggered(raw, carried: carried)
            if rail.rule.action == .block, !found.isEmpty {
                blocked = GuardrailDecision(rail: rail, direction: "output", findings: found)
                note(rail, found)
                return ""
            }
            railFindings.append((rail, raw))
            // A match that reaches past the release point holds the text back from its start.
            for finding in raw where finding.range.upperBound > release && finding.range.lowerBound < release && !final {
                release = finding.range.lowerBound
            }
        }
        if !final && count <= Self.maximumHeld {
            // Never split a token (a key, a URL, a placeholder) or a UTF-8 sequence.
            var cut = max(0, release)
            let floor = max(0, cut - 4096)
            while cut > floor, cut < count, !ByteClass.space(state.pending[cut - 1]), !ByteClass.space(state.pending[cut]) { cut -= 1 }
            if cut == floor && floor > 0 { cut = max(0, release) }
            while cut > 0, cut < count, state.pending[cut] & 0xC0 == 0x80 { cut -= 1 }
            release = cut
        }
        guard release > 0 else { return "" }
        var segment = Array(state.pending[0..<release])
        var replaced: [Finding] = []
        for (rail, raw) in railFindings {
            let inside = raw.filter { $0.range.upperBound <= release }
            guard !inside.isEmpty else { continue }
            var carried = state.carried[rail.rule.name] ?? [:]
            let found = rail.triggered(inside, carried: carried)
            for finding in inside { carried[finding.entity, default: 0] += finding.score }
            state.carried[rail.rule.name] = carried
            guard !found.isEmpty else { continue }
            note(rail, found)
            if rail.rule.action != .flag { replaced.append(contentsOf: found) }
        }
        if !replaced.isEmpty {
            segment = GuardrailEngine.mask(segment, replaced)
        }
        state.pending.removeFirst(release)
        state.context = Array((state.context + segment).suffix(64))
        return String(decoding: output.pseudonyms.restore(segment), as: UTF8.self)
    }

    private mutating func note(_ rail: GuardrailEngine.Rail, _ found: [Finding]) {
        if findings[rail.rule.name] == nil { order.append(rail.rule.name) }
        findings[rail.rule.name, default: []].append(contentsOf: found)
    }

    /// Choices that still hold text.
    var heldChoices: [Int] { choices.filter { !$0.value.pending.isEmpty }.keys.sorted() }
}
